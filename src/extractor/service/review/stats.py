"""Review figures for the dashboard: reviewed share, reviewer-judged accuracy, seller/reviewer agreement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, select

from extractor.service.dashboard.stats import ROW_CAP
from extractor.service.extraction.corrections import FIELDS
from extractor.service.storage.tables import extractions, reviews
from pytest_listingeval import wilson_interval

ALL = "all variants"


@dataclass
class Tally:
    """Right judgements out of all judgements of one field."""

    correct: int = 0
    n: int = 0

    @property
    def accuracy(self) -> float | None:
        """Share judged right."""
        return self.correct / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% Wilson interval of the accuracy."""
        return wilson_interval(self.correct, self.n) if self.n else None


@dataclass
class VariantReviews:
    """How much of one variant's traffic people reviewed, and what they found."""

    variant: str
    reviewable: int = 0
    reviewed: int = 0
    fields: dict[str, Tally] = field(default_factory=lambda: {f: Tally() for f in FIELDS})

    @property
    def share(self) -> float | None:
        """Share of reviewable (ok) extractions with at least one review."""
        return self.reviewed / self.reviewable if self.reviewable else None


@dataclass
class Agreement:
    """One field on extractions both published by the seller and reviewed."""

    field: str
    n: int = 0
    seller_corrected: int = 0
    reviewer_wrong: int = 0
    both: int = 0

    @property
    def reviewer_given_seller(self) -> float | None:
        """Of the fields the seller corrected, the share the reviewer also marked wrong."""
        return self.both / self.seller_corrected if self.seller_corrected else None

    @property
    def seller_given_reviewer(self) -> float | None:
        """Of the fields the reviewer marked wrong, the share the seller also corrected."""
        return self.both / self.reviewer_wrong if self.reviewer_wrong else None


@dataclass
class ReviewStats:
    """Every review figure of the dashboard for one window."""

    variants: list[VariantReviews]
    overall: VariantReviews
    agreement: list[Agreement]


def latest_verdicts(conn: Connection, *where: ColumnElement[bool]) -> dict[str, dict[str, Any]]:
    """The per-field verdicts of the latest review of each ok extraction matching `where`, by extraction id."""
    query = (
        select(reviews.c.extraction_id, reviews.c.fields)
        .join(extractions, extractions.c.id == reviews.c.extraction_id)
        .where(extractions.c.status == "ok", *where)
        .order_by(reviews.c.created_at, reviews.c.id)
    )
    # Oldest first: a later review of the same extraction replaces the earlier one.
    return {r.extraction_id: r.fields or {} for r in conn.execute(query)}


def collect_reviews(engine: Engine, since: datetime | None, variants: list[str]) -> ReviewStats:
    """Review figures over ok extractions created since `since`; each extraction counts its latest review."""
    window = [] if since is None else [extractions.c.created_at >= since]
    rows_query = (
        select(extractions.c.id, extractions.c.variant, extractions.c.finalized_at, extractions.c.corrected_fields)
        .where(extractions.c.status == "ok", *window)
        .order_by(extractions.c.created_at.desc())
        .limit(ROW_CAP)
    )
    with engine.connect() as conn:
        rows = conn.execute(rows_query).all()
        latest = latest_verdicts(conn, *window)
    table = {name: VariantReviews(name) for name in variants}
    overall = VariantReviews(ALL)
    agreement = {name: Agreement(name) for name in FIELDS}
    for row in rows:
        stats = table.setdefault(row.variant, VariantReviews(row.variant))
        judged = latest.get(row.id)
        for target in (stats, overall):
            target.reviewable += 1
            target.reviewed += judged is not None
        if judged is None:
            continue
        corrected = set(row.corrected_fields or [])
        for name, verdict in judged.items():
            if name not in FIELDS:
                continue
            right = bool(verdict.get("correct"))
            for target in (stats, overall):
                target.fields[name].n += 1
                target.fields[name].correct += right
            if row.finalized_at is not None:
                agree = agreement[name]
                agree.n += 1
                agree.seller_corrected += name in corrected
                agree.reviewer_wrong += not right
                agree.both += name in corrected and not right
    return ReviewStats(list(table.values()), overall, list(agreement.values()))
