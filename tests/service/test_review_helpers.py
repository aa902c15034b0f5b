"""Helpers shared by the review and promote tests: seeding rows directly and cleaning review tables."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from extractor.service.diff import corrected_fields
from extractor.service.records import Finished, Pending, Upload, utcnow
from extractor.service.store import Store
from extractor.service.tables import review_leases, reviews
from extractor.service.uploads import sniff
from tests.fakes.shapes import DEFAULT_LISTING
from tests.service.conftest import png

CLIPART = Path(__file__).resolve().parents[2] / "cases" / "images"


def clear_reviews(engine: sa.Engine) -> None:
    """Empty the review tables (the shared `store` fixture only knows the older ones)."""
    with engine.begin() as conn:
        conn.execute(review_leases.delete())
        conn.execute(reviews.delete())


def seed(
    store: Store,
    *,
    variant: str = "control",
    status: str = "ok",
    output: dict[str, Any] | None = None,
    rating: str | None = None,
    final: dict[str, Any] | None = None,
    image: bytes | None = None,
    age_s: float = 0.0,
) -> str:
    """One stored extraction with chosen variant, status, thumb and published listing; its id."""
    data = image if image is not None else png((len(variant) * 20 % 256, int(age_s) % 256, 7))
    created: datetime = utcnow() - timedelta(seconds=age_s)
    upload = Upload(data, hashlib.sha256(data).hexdigest(), sniff(data))
    extraction_id = uuid.uuid4().hex
    store.start(Pending(extraction_id, "u", variant, "gpt-4.1-mini", "default-abc", upload, created))
    listing = dict(output or DEFAULT_LISTING) if status == "ok" else None
    store.finish(extraction_id, Finished(status, output=listing, latency_ms=5))  # type: ignore[arg-type]
    if rating is not None:
        store.rate(extraction_id, rating, None)  # type: ignore[arg-type]
    if final is not None:
        store.finalize(extraction_id, variant, final, corrected_fields(listing, final))
    return extraction_id


def clipart(name: str) -> bytes:
    """A real public-domain image from the demo eval set."""
    return (CLIPART / name).read_bytes()
