"""Helpers shared by the review and promote tests: seeding rows directly and cleaning review tables."""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import Image, ImageDraw

from extractor.service.api.uploads import sniff
from extractor.service.extraction.corrections import corrected_fields
from extractor.service.storage.records import Finished, Pending, Rating, Status, Upload, utcnow
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import png

CLIPART = Path(__file__).resolve().parents[2] / "cases" / "images"


def seed(
    store: Store,
    *,
    variant: str = "control",
    status: Status = "ok",
    output: dict[str, Any] | None = None,
    rating: Rating | None = None,
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
    store.finish(extraction_id, Finished(status, output=listing, latency_ms=5))
    if rating is not None:
        store.rate(extraction_id, rating, None)
    if final is not None:
        store.finalize(extraction_id, variant, final, corrected_fields(listing, final))
    return extraction_id


def clipart(name: str) -> bytes:
    """A real public-domain image from the demo eval set."""
    return (CLIPART / name).read_bytes()


def drawing(seed: int, size: int = 160, fmt: str = "PNG") -> bytes:
    """A picture with structure (random shapes on white), different for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(0, size - 40), rng.randrange(0, size - 40)
        box = (x0, y0, x0 + rng.randrange(20, 40), y0 + rng.randrange(20, 40))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def reencoded(data: bytes, scale: float = 0.6, quality: int = 70) -> bytes:
    """The same picture resized and saved again as JPEG (transparency flattened onto white)."""
    with Image.open(io.BytesIO(data)) as opened:
        rgba = opened.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    resized = flat.resize((max(8, int(flat.width * scale)), max(8, int(flat.height * scale))))
    out = io.BytesIO()
    resized.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def database_url(engine: sa.Engine) -> str:
    """A URL the command line can open on the same database (and PostgreSQL schema) as the engine."""
    url = engine.url
    if url.get_backend_name() != "postgresql":
        return url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
