"""The online worker's reads and writes: claim finished rows, reserve judge calls under the budget, write results once.

Every write is one short transaction and safe to race: a claim is a conditional UPDATE on
`online_claimed_at` (a lease), the final write sets `online_scored_at` only where it is still
null and inserts results with insert-or-ignore, so two replicas (or a replica and its
successor after a crash) never both score a row, and a row whose claim lapsed is taken again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from extractor.judge import JUDGE_MAX_OUTPUT_TOKENS
from extractor.service.online.scoring import Verdict
from extractor.service.online.settings import JudgePrice, JudgeRubric, OnlineSettings
from extractor.service.storage.db import insert_ignore, write_transaction
from extractor.service.storage.tables import extractions, images, online_results

# What a judge row says while its call runs. It is an error if nobody ever replaces it: a
# replica died during the call, whose cost may have been spent.
IN_FLIGHT = "judge call in flight"
INTERRUPTED = "the judge call was interrupted (its replica stopped before the answer was stored)"
# Before any judge call has a known cost, one is assumed to cost this much: a large photo's
# tokens plus the rubric and the value in, the whole verdict budget out.
PRIOR_INPUT_TOKENS = 3000
# How far back the largest known judge cost is looked for.
COST_MEMORY = timedelta(days=7)
# Serialises judge reservations across PostgreSQL replicas (SQLite's write lock already does).
_BUDGET_LOCK_KEY = 7_405_310_017


@dataclass(frozen=True)
class Claimed:
    """A finished extraction this replica claimed for scoring at `stamp`."""

    id: str
    created_at: datetime
    variant: str
    status: str
    output: dict[str, Any] | None
    image_sha256: str | None
    stamp: datetime


@dataclass(frozen=True)
class Scored:
    """A claimed row with its check verdicts (and, once judged, the judge's)."""

    row: Claimed
    verdicts: tuple[Verdict, ...]


@dataclass(frozen=True)
class Budget:
    """The judge's daily limits (UTC days) and the price its cost is counted at."""

    calls: int | None = None
    usd: float | None = None
    price: JudgePrice | None = None

    @classmethod
    def of(cls, settings: OnlineSettings) -> Budget:
        """The budget the settings give."""
        return cls(settings.judge_daily_calls, settings.judge_daily_budget_usd, settings.judge_price)


@dataclass(frozen=True)
class Reservation:
    """Which judge calls a row may make now, and which the budget refused."""

    admitted: tuple[JudgeRubric, ...] = ()
    over_budget: tuple[JudgeRubric, ...] = ()
    reserved_usd: float | None = None


@dataclass
class Written:
    """What a final write stored: the rows it marked scored and judge calls it found interrupted."""

    scored: list[Scored] = field(default_factory=list)
    interrupted: dict[str, int] = field(default_factory=dict)


def claim(engine: Engine, limit: int, lease_s: float, now: datetime) -> list[Claimed]:
    """Claim up to `limit` of the oldest finished, unscored rows nobody holds a live lease on."""
    cutoff = now - timedelta(seconds=lease_s)
    free = or_(extractions.c.online_claimed_at.is_(None), extractions.c.online_claimed_at < cutoff)
    waiting = and_(extractions.c.online_scored_at.is_(None), extractions.c.status != "pending", free)
    with write_transaction(engine) as conn:
        pick = select(extractions.c.id).where(waiting).order_by(extractions.c.created_at).limit(limit)
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        # Two statements, not `UPDATE ... WHERE id IN (SELECT ... LIMIT n)`: PostgreSQL may run such a
        # subquery more than once and update more than `limit` rows.
        ids = list(conn.execute(pick).scalars())
        if not ids:
            return []
        rows = conn.execute(
            update(extractions)
            .where(extractions.c.id.in_(ids), waiting)
            .values(online_claimed_at=now)
            .returning(
                extractions.c.id,
                extractions.c.created_at,
                extractions.c.variant,
                extractions.c.status,
                extractions.c.output,
                extractions.c.image_sha256,
            )
        ).all()
    claimed = [Claimed(**row._asdict(), stamp=now) for row in rows]
    return sorted(claimed, key=lambda c: c.created_at)


def backlog(engine: Engine) -> int:
    """Finished rows not scored yet (claimed ones included)."""
    with engine.connect() as conn:
        waiting = select(func.count()).select_from(extractions)
        waiting = waiting.where(extractions.c.online_scored_at.is_(None), extractions.c.status != "pending")
        return int(conn.execute(waiting).scalar_one())


def finish(engine: Engine, scored: Sequence[Scored], now: datetime) -> Written:
    """Store every row's verdicts and mark it scored, in one transaction; rows scored meanwhile are skipped."""
    written = Written()
    if not scored:
        return written
    with write_transaction(engine) as conn:
        marked = _mark_scored(conn, scored, now)
        kept = [item for item in scored if item.row.id in marked]
        checks = [_values(item.row, v, now) for item in kept for v in item.verdicts if v.kind == "check"]
        if checks:
            _insert_ignoring(conn, checks)
        for item in kept:
            for verdict in item.verdicts:
                if verdict.kind == "judge":
                    conn.execute(
                        update(online_results)
                        .where(*_judge_row(item.row.id, verdict.check), online_results.c.reason == IN_FLIGHT)
                        .values(result=verdict.result, reason=verdict.reason, cost_usd=verdict.cost_usd)
                    )
        if kept:
            # A call some replica reserved and never finished (it stopped) stays an error: it may have been paid for.
            interrupted = conn.execute(
                update(online_results)
                .where(online_results.c.extraction_id.in_(sorted(marked)), online_results.c.reason == IN_FLIGHT)
                .values(result="error", reason=INTERRUPTED)
                .returning(online_results.c.variant)
            ).scalars()
            written.interrupted = dict(Counter(interrupted))
    written.scored = kept
    return written


def _mark_scored(conn: Connection, scored: Sequence[Scored], now: datetime) -> set[str]:
    """Set `online_scored_at` on the rows still unscored and still in the status they were scored in; their ids."""
    by_status: dict[str, list[str]] = defaultdict(list)
    for item in scored:
        by_status[item.row.status].append(item.row.id)
    marked: set[str] = set()
    for status, ids in by_status.items():
        # The status guard: a late result that replaced `lost` makes the row one to score afresh.
        found = conn.execute(
            update(extractions)
            .where(extractions.c.id.in_(ids), extractions.c.online_scored_at.is_(None), extractions.c.status == status)
            .values(online_scored_at=now)
            .returning(extractions.c.id)
        ).scalars()
        marked.update(found)
    return marked


def _insert_ignoring(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert the results, leaving any already stored (one statement for all of them)."""
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(postgresql.insert(online_results).on_conflict_do_nothing(), rows)
    elif name == "sqlite":
        conn.execute(sqlite.insert(online_results).on_conflict_do_nothing(), rows)
    else:
        for row in rows:
            insert_ignore(conn, online_results, row)


def reserve(
    engine: Engine, row: Claimed, judges: Sequence[JudgeRubric], budget: Budget, now: datetime
) -> Reservation | None:
    """Renew the row's claim and reserve its judge calls within today's budget; None when the claim was lost.

    A reserved call is an `online_results` row (IN_FLIGHT, at the reserved cost) written before
    the call, so every replica's count sees it; reservations are serialised, so the limits hold
    across replicas. A judge that already has a row for this extraction is not called again.
    """
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BUDGET_LOCK_KEY})
        renewed = conn.execute(
            update(extractions)
            .where(
                extractions.c.id == row.id,
                extractions.c.online_scored_at.is_(None),
                extractions.c.online_claimed_at == row.stamp,
            )
            .values(online_claimed_at=now)
        ).rowcount
        if not renewed:
            return None
        judged = set(
            conn.execute(
                select(online_results.c.check).where(
                    online_results.c.extraction_id == row.id, online_results.c.kind == "judge"
                )
            ).scalars()
        )
        calls, spent = _spent_today(conn, now)
        each = _reserve_usd(conn, budget.price, now)
        admitted, refused = [], []
        for judge in judges:
            if judge.name in judged:
                continue
            over_calls = budget.calls is not None and calls + 1 > budget.calls
            over_usd = budget.usd is not None and each is not None and spent + each > budget.usd
            if over_calls or over_usd:
                refused.append(judge)
                continue
            placeholder = Verdict(judge.name, judge.field, "judge", "error", IN_FLIGHT, judge.version, each)
            insert_ignore(conn, online_results, _values(row, placeholder, now))
            calls, spent = calls + 1, spent + (each or 0.0)
            admitted.append(judge)
    return Reservation(tuple(admitted), tuple(refused), each)


def _spent_today(conn: Connection, now: datetime) -> tuple[int, float]:
    """Judge calls made (or in flight) since the start of today (UTC), and their cost."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    found = conn.execute(
        select(func.count(), func.coalesce(func.sum(online_results.c.cost_usd), 0.0)).where(
            online_results.c.kind == "judge", online_results.c.created_at >= day
        )
    ).one()
    return int(found[0]), float(found[1])


def _reserve_usd(conn: Connection, price: JudgePrice | None, now: datetime) -> float | None:
    """What a call is assumed to cost until it is known: the largest recent cost, at least the prior."""
    if price is None:
        return None
    largest = conn.execute(
        select(func.max(online_results.c.cost_usd)).where(
            online_results.c.kind == "judge",
            online_results.c.created_at >= now - COST_MEMORY,
            online_results.c.reason != IN_FLIGHT,
        )
    ).scalar_one_or_none()
    return max(float(largest or 0.0), price.cost(PRIOR_INPUT_TOKENS, JUDGE_MAX_OUTPUT_TOKENS))


def image(engine: Engine, sha256: str | None) -> bytes | None:
    """The stored photo, or None when it is gone (purged) or the row never had one."""
    if sha256 is None:
        return None
    with engine.connect() as conn:
        data = conn.execute(select(images.c.data).where(images.c.sha256 == sha256)).scalar_one_or_none()
    return None if data is None else bytes(data)


def results_of(engine: Engine, extraction_id: str) -> list[dict[str, Any]] | None:
    """An extraction's online results once it is scored (checks first, then judge verdicts); None before."""
    with engine.connect() as conn:
        scored = conn.execute(
            select(extractions.c.online_scored_at).where(extractions.c.id == extraction_id)
        ).scalar_one_or_none()
        if scored is None:
            return None
        rows = conn.execute(
            select(
                online_results.c.check,
                online_results.c.field,
                online_results.c.kind,
                online_results.c.result,
                online_results.c.reason,
            )
            .where(online_results.c.extraction_id == extraction_id)
            .order_by(online_results.c.kind, online_results.c.check)
        ).all()
    return [row._asdict() for row in rows]


def _judge_row(extraction_id: str, check: str) -> tuple[Any, Any]:
    return online_results.c.extraction_id == extraction_id, online_results.c.check == check


def _values(row: Claimed, verdict: Verdict, now: datetime) -> dict[str, Any]:
    return {
        "extraction_id": row.id,
        "check": verdict.check,
        "field": verdict.field,
        "kind": verdict.kind,
        "result": verdict.result,
        "reason": verdict.reason,
        "rubric_version": verdict.rubric_version,
        "variant": row.variant,
        "cost_usd": verdict.cost_usd,
        "created_at": now,
    }
