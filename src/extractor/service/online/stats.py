"""The online page's figures: pass rates per check and variant over a window, judge verdicts, today's judge spend."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select

from extractor.service.dashboard.stats import BUCKETS, ROW_CAP, window_start
from extractor.service.online.store import IN_FLIGHT, backlog
from extractor.service.storage.records import as_utc, utcnow
from extractor.service.storage.tables import online_results
from pytest_listingeval import wilson_interval

RECENT_FAILURES = 20


@dataclass
class CheckStats:
    """One check (or one field's judge) on one variant over the window."""

    check: str
    variant: str
    kind: str
    results: Counter[str] = field(default_factory=Counter)
    # Per time bucket: (results, failed ones).
    series: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)] * BUCKETS)

    @property
    def decided(self) -> int:
        """Passes and fails (errors decide nothing)."""
        return self.results["pass"] + self.results["fail"]

    @property
    def pass_rate(self) -> float | None:
        """Share of decided results that passed."""
        return self.results["pass"] / self.decided if self.decided else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% Wilson interval of the pass rate."""
        return wilson_interval(self.results["pass"], self.decided) if self.decided else None


@dataclass(frozen=True)
class Failure:
    """A recent failed result, to open and look at."""

    extraction_id: str
    check: str
    variant: str
    reason: str | None
    created_at: datetime


@dataclass
class OnlineStats:
    """Everything the online page shows."""

    since: datetime
    checks: list[CheckStats]
    judges: list[CheckStats]
    failures: list[Failure]
    backlog: int
    judge_calls_today: int
    judge_usd_today: float


def collect_online(engine: Engine, window: str) -> OnlineStats:
    """The window's results per check and variant (time is when a row was scored), and the judge's day so far."""
    now = utcnow()
    since = window_start(window, now)
    settled = or_(online_results.c.reason.is_(None), online_results.c.reason != IN_FLIGHT)
    query = (
        select(
            online_results.c.extraction_id,
            online_results.c.check,
            online_results.c.variant,
            online_results.c.kind,
            online_results.c.result,
            online_results.c.reason,
            online_results.c.created_at,
        )
        .where(settled)
        .order_by(online_results.c.created_at.desc())
        .limit(ROW_CAP)
    )
    if since is not None:
        query = query.where(online_results.c.created_at >= since)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = select(func.count(), func.coalesce(func.sum(online_results.c.cost_usd), 0.0)).where(
        online_results.c.kind == "judge", online_results.c.created_at >= day
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        calls, usd = conn.execute(today).one()
    waiting = backlog(engine)
    first = since or (as_utc(rows[-1].created_at) if rows else now - timedelta(hours=1))
    step = max((now - first) / BUCKETS, timedelta(seconds=1))
    table: dict[tuple[str, str], CheckStats] = {}
    series: dict[tuple[str, str], list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(BUCKETS)])
    failures: list[Failure] = []
    for row in rows:
        key = (row.check, row.variant)
        stats = table.setdefault(key, CheckStats(row.check, row.variant, row.kind))
        stats.results[row.result] += 1
        index = min(BUCKETS - 1, max(0, int((as_utc(row.created_at) - first) / step)))
        series[key][index][0] += 1
        series[key][index][1] += row.result != "pass"
        if row.result == "fail" and len(failures) < RECENT_FAILURES:
            failures.append(Failure(row.extraction_id, row.check, row.variant, row.reason, row.created_at))
    for key, buckets in series.items():
        table[key].series = [(total, failed) for total, failed in buckets]
    ordered = sorted(table.values(), key=lambda s: (s.check, s.variant))
    return OnlineStats(
        since=first,
        checks=[s for s in ordered if s.kind == "check"],
        judges=[s for s in ordered if s.kind == "judge"],
        failures=failures,
        backlog=waiting,
        judge_calls_today=int(calls),
        judge_usd_today=float(usd),
    )
