"""Seeding many extraction rows at once, with chosen times, outputs and photo sizes, for the quality tests."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from extractor.service.storage.db import insert_ignore
from extractor.service.storage.records import utcnow
from extractor.service.storage.tables import extractions, images, reviews
from tests.fakes.listing import DEFAULT_LISTING

# A photo as the quality code sees it: width and height (None when not recorded) and bytes.
Photo = tuple[int | None, int | None, int]
PHOTO: Photo = (1024, 768, 150_000)


def draw(rng: random.Random, weights: dict[str, float], n: int) -> list[str]:
    """`n` values drawn with the given weights (seeded, so the same every run)."""
    return rng.choices(list(weights), weights=list(weights.values()), k=n)


def insert_requests(
    engine: sa.Engine,
    start: datetime,
    span: timedelta,
    outputs: Sequence[dict[str, Any] | None],
    photos: Sequence[Photo] | None = None,
    variant: str = "default",
    status: str = "ok",
) -> list[str]:
    """One extraction row per output, spread evenly over [start, start + span), each with its photo; their ids."""
    photos = photos or [PHOTO] * len(outputs)
    assert len(photos) == len(outputs)
    step = span / len(outputs)
    ids = [uuid.uuid4().hex for _ in outputs]
    rows = []
    with engine.begin() as conn:
        for photo in set(photos):
            sha = hashlib.sha256(repr(photo).encode()).hexdigest()
            width, height, size = photo
            stored = {"sha256": sha, "data": b"x", "size": size, "content_type": "image/png", "width": width}
            insert_ignore(conn, images, {**stored, "height": height, "created_at": start})
        for i, (output, photo) in enumerate(zip(outputs, photos, strict=True)):
            rows.append(
                {
                    "id": ids[i],
                    "created_at": start + i * step,
                    "user_id": f"user-{i}",
                    "variant": variant,
                    "model": "gpt-4.1-mini",
                    "prompt_id": "default-abc",
                    "status": status,
                    "output": output,
                    "image_sha256": hashlib.sha256(repr(photo).encode()).hexdigest(),
                }
            )
        conn.execute(sa.insert(extractions), rows)
    return ids


def listings(field: str, values: Sequence[str]) -> list[dict[str, Any]]:
    """The default listing with `field` set to each value in turn."""
    return [{**DEFAULT_LISTING, field: value} for value in values]


def publish(engine: sa.Engine, extraction_id: str, corrected: Sequence[str]) -> None:
    """Mark a row as published by its seller with these fields corrected."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(extractions)
            .where(extractions.c.id == extraction_id)
            .values(final_listing=DEFAULT_LISTING, corrected_fields=list(corrected), finalized_at=utcnow())
        )


def review(engine: sa.Engine, extraction_id: str, at: datetime, **correct: bool) -> None:
    """Store a review of a row judging the named fields right (True) or wrong (False) at time `at`."""
    fields = {name: {"correct": right, "value": None} for name, right in correct.items()}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(reviews).values(
                id=uuid.uuid4().hex,
                extraction_id=extraction_id,
                annotator="r",
                variant="v",
                created_at=at,
                fields=fields,
            )
        )
