"""Reviews of extractions by people: storing one, reading the latest per extraction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select

from extractor.service.storage.db import write_transaction
from extractor.service.storage.records import as_utc, utcnow
from extractor.service.storage.tables import review_leases, reviews


@dataclass(frozen=True)
class Verdict:
    """One field as a reviewer judged it: right or wrong, and the right value."""

    correct: bool
    value: Any


@dataclass(frozen=True)
class Review:
    """A stored review of one extraction."""

    id: str
    extraction_id: str
    annotator: str
    variant: str
    created_at: datetime
    fields: dict[str, Verdict]
    comment: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the API."""
        return {
            "id": self.id,
            "extraction_id": self.extraction_id,
            "annotator": self.annotator,
            "variant": self.variant,
            "created_at": as_utc(self.created_at).isoformat(),
            "fields": {name: {"correct": v.correct, "value": v.value} for name, v in self.fields.items()},
            "comment": self.comment,
        }


def _review(row: Any) -> Review:
    fields = {name: Verdict(bool(v["correct"]), v.get("value")) for name, v in (row.fields or {}).items()}
    return Review(row.id, row.extraction_id, row.annotator, row.variant, row.created_at, fields, row.comment)


_COLUMNS = (
    reviews.c.id,
    reviews.c.extraction_id,
    reviews.c.annotator,
    reviews.c.variant,
    reviews.c.created_at,
    reviews.c.fields,
    reviews.c.comment,
)


class ReviewStore:
    """Writes and reads of the reviews table; every method is one short transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(
        self,
        extraction_id: str,
        annotator: str,
        variant: str,
        fields: dict[str, Verdict],
        comment: str | None,
    ) -> Review:
        """Store a review and release the annotator's lease on the extraction."""
        review = Review(uuid.uuid4().hex, extraction_id, annotator, variant, utcnow(), fields, comment)
        stored = {name: {"correct": v.correct, "value": v.value} for name, v in fields.items()}
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(reviews).values(
                    id=review.id,
                    extraction_id=extraction_id,
                    annotator=annotator,
                    variant=variant,
                    created_at=review.created_at,
                    fields=stored,
                    comment=comment,
                )
            )
            conn.execute(
                delete(review_leases).where(
                    and_(review_leases.c.extraction_id == extraction_id, review_leases.c.annotator == annotator)
                )
            )
        return review

    def latest(self, extraction_id: str) -> Review | None:
        """The most recent review of an extraction, or None."""
        query = (
            select(*_COLUMNS)
            .where(reviews.c.extraction_id == extraction_id)
            .order_by(reviews.c.created_at.desc(), reviews.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _review(row)

    def reviewed_since(self, since: datetime | None) -> list[str]:
        """Ids of extractions reviewed at or after `since` (all when None), oldest review first."""
        query = select(reviews.c.extraction_id, reviews.c.created_at).order_by(reviews.c.created_at, reviews.c.id)
        if since is not None:
            query = query.where(reviews.c.created_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return list(dict.fromkeys(row.extraction_id for row in rows))
