"""Ground truth from production: per-field accuracy per variant and time bucket, with coverage.

Two sources, each over the requests answered with a listing (status `ok`), bucketed by when the
request was made:
- published: the seller's final listing; a field the seller did not correct counts as right;
- reviewed: the latest review of the extraction; only the fields it judged count.
Coverage is the share of the bucket's answered requests that have the source's verdict on the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, select

from extractor.service.dashboard.stats import ROW_CAP
from extractor.service.extraction.corrections import FIELDS
from extractor.service.review.stats import Tally, latest_verdicts
from extractor.service.storage.records import as_utc
from extractor.service.storage.tables import extractions

Source = Literal["published", "reviewed"]
SOURCES: tuple[Source, ...] = ("published", "reviewed")
BUCKETS = 6


def _tallies() -> dict[Source, dict[str, Tally]]:
    return {source: {name: Tally() for name in FIELDS} for source in SOURCES}


@dataclass
class Period:
    """One variant's answered requests in [start, end) and each source's verdicts per field."""

    start: datetime
    end: datetime
    served: int = 0
    truth: dict[Source, dict[str, Tally]] = field(default_factory=_tallies)

    def coverage(self, source: Source, name: str) -> float | None:
        """Share of the answered requests with this source's verdict on the field."""
        return self.truth[source][name].n / self.served if self.served else None


@dataclass
class VariantTruth:
    """One variant's ground truth over the whole window and per time bucket."""

    variant: str
    whole: Period
    buckets: list[Period]


def _variant(name: str, start: datetime, end: datetime, buckets: int) -> VariantTruth:
    step = (end - start) / buckets
    periods = [Period(start + i * step, start + (i + 1) * step) for i in range(buckets)]
    return VariantTruth(name, Period(start, end), periods)


def collect_truth(
    engine: Engine, since: datetime | None, now: datetime, variants: list[str], buckets: int = BUCKETS
) -> list[VariantTruth]:
    """Ground truth per variant (configured first, then any seen) for requests made in [since, now)."""
    window = [extractions.c.created_at < now] + ([] if since is None else [extractions.c.created_at >= since])
    query = (
        select(
            extractions.c.id,
            extractions.c.variant,
            extractions.c.created_at,
            extractions.c.finalized_at,
            extractions.c.corrected_fields,
        )
        .where(extractions.c.status == "ok", *window)
        .order_by(extractions.c.created_at.desc())
        .limit(ROW_CAP)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        verdicts = latest_verdicts(conn, *window)
    start = since or (as_utc(rows[-1].created_at) if rows else now - timedelta(hours=1))
    step = (now - start) / buckets
    table = {name: _variant(name, start, now, buckets) for name in variants}
    for row in rows:
        found = table.get(row.variant)
        if found is None:
            found = table[row.variant] = _variant(row.variant, start, now, buckets)
        index = min(buckets - 1, max(0, int((as_utc(row.created_at) - start) / step)))
        corrected = set(row.corrected_fields or [])
        judged = verdicts.get(row.id, {})
        for period in (found.whole, found.buckets[index]):
            period.served += 1
            if row.finalized_at is not None:
                for name in FIELDS:
                    period.truth["published"][name].n += 1
                    period.truth["published"][name].correct += name not in corrected
            for name, verdict in judged.items():
                if name in FIELDS:
                    period.truth["reviewed"][name].n += 1
                    period.truth["reviewed"][name].correct += bool(verdict.get("correct"))
    return list(table.values())
