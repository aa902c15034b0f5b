"""Per-variant figures for the dashboard over a time window."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from extractor.service.api.errors import ApiError
from extractor.service.extraction.corrections import FIELDS
from extractor.service.storage.records import as_utc, utcnow
from extractor.service.storage.tables import extractions

WINDOWS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "all": None,
}
# The dashboard reads at most this many of the newest rows per window.
ROW_CAP = 200_000
BUCKETS = 24
# Statuses drawn red in the traffic chart.
BAD_STATUSES = frozenset({"error", "empty", "refusal", "lost"})


@dataclass
class VariantStats:
    """What one variant did in the window."""

    variant: str
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[int] = field(default_factory=list)
    rated: int = 0
    ups: int = 0
    finals: int = 0
    corrected: Counter[str] = field(default_factory=Counter)
    series: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)] * BUCKETS)

    @property
    def requests(self) -> int:
        """Finished requests, lost ones included (pending ones are in flight)."""
        return sum(n for s, n in self.statuses.items() if s != "pending")

    @property
    def pending(self) -> int:
        """Rows still waiting for their result: in flight, or not yet reaped."""
        return self.statuses["pending"]

    @property
    def lost(self) -> int:
        """Rows the reaper finalised because no result ever came (the process died)."""
        return self.statuses["lost"]

    @property
    def served(self) -> int:
        """Finished requests with a usable image: the denominator of error and empty rates."""
        return self.requests - self.statuses["invalid_image"]

    def rate(self, status: str) -> float | None:
        """Share of served requests that ended with `status`."""
        return self.statuses[status] / self.served if self.served else None

    @property
    def thumbs_up_rate(self) -> float | None:
        """Share of rated extractions rated up."""
        return self.ups / self.rated if self.rated else None

    def correction_rate(self, name: str) -> float | None:
        """Share of published listings in which the seller changed this field."""
        return self.corrected[name] / self.finals if self.finals else None

    def percentile(self, q: float) -> int | None:
        """Latency percentile in ms (nearest rank)."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def window_start(window: str, now: datetime | None = None) -> datetime | None:
    """Where the window begins (None for all time)."""
    span = WINDOWS[window]
    return None if span is None else (now or utcnow()) - span


def collect(engine: Engine, window: str, variants: list[str]) -> tuple[list[VariantStats], datetime]:
    """Figures per variant (configured first, then any seen in the logs) and the window start."""
    now = utcnow()
    since = window_start(window, now)
    query = (
        select(
            extractions.c.variant,
            extractions.c.created_at,
            extractions.c.status,
            extractions.c.latency_ms,
            extractions.c.rating,
            extractions.c.finalized_at,
            extractions.c.corrected_fields,
        )
        .order_by(extractions.c.created_at.desc())
        .limit(ROW_CAP)
    )
    if since is not None:
        query = query.where(extractions.c.created_at >= since)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    first = since or (as_utc(rows[-1].created_at) if rows else now - timedelta(hours=1))
    step = max((now - first) / BUCKETS, timedelta(seconds=1))
    table: dict[str, VariantStats] = {name: VariantStats(name) for name in variants}
    series: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(BUCKETS)])
    for row in rows:
        stats = table.setdefault(row.variant, VariantStats(row.variant))
        stats.statuses[row.status] += 1
        if row.status not in ("pending", "invalid_image") and row.latency_ms is not None:
            stats.latencies.append(row.latency_ms)
        if row.rating is not None:
            stats.rated += 1
            stats.ups += row.rating == "up"
        if row.finalized_at is not None:
            stats.finals += 1
            stats.corrected.update(f for f in row.corrected_fields or [] if f in FIELDS)
        index = min(BUCKETS - 1, max(0, int((as_utc(row.created_at) - first) / step)))
        bucket = series[row.variant][index]
        bucket[0] += 1
        bucket[1] += row.status in BAD_STATUSES
    for name, buckets in series.items():
        table[name].series = [(total, bad) for total, bad in buckets]
    return list(table.values()), first


def check_window(window: str) -> None:
    """400 `bad_request` unless `window` is one of the dashboard's windows."""
    if window not in WINDOWS:
        raise ApiError(400, "bad_request", f"window must be one of {', '.join(WINDOWS)}")
