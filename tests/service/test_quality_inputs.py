"""Input drift: uploads record their photo's size, and a shift in photo sizes shows per property."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.service.quality.drift import ALERT_PSI, DriftReport, FieldDrift, measure
from extractor.service.quality.settings import DriftSettings
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import images
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import png, upload
from tests.service.quality_rows import Photo, insert_requests
from tests.service.test_privacy import jpeg_with_gps

pytestmark = pytest.mark.service

WINDOW = timedelta(hours=1)
ROWS = 600
PHONE = [(800, 600, 90_000), (1024, 768, 150_000), (1280, 960, 240_000), (1600, 1200, 380_000)]
CAMERA: Photo = (4032, 3024, 2_500_000)


def _stored_size(store: Store, sha256: str) -> tuple[int | None, int | None]:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(images.c.width, images.c.height).where(images.c.sha256 == sha256)).one()
    return row.width, row.height


def test_an_upload_stores_its_photos_size(client: TestClient, store: Store) -> None:
    response = upload(client, png(size=(64, 48)))
    assert response.status_code == 200, response.text
    row = store.get(response.json()["id"])
    assert row is not None and row.image_sha256 is not None
    assert _stored_size(store, row.image_sha256) == (64, 48)


def test_a_turned_photo_stores_its_upright_size(client: TestClient, store: Store) -> None:
    response = upload(client, jpeg_with_gps(orientation=6))  # 96 x 64 as encoded, a quarter turn to show
    assert response.status_code == 200, response.text
    row = store.get(response.json()["id"])
    assert row is not None and row.image_sha256 is not None
    assert _stored_size(store, row.image_sha256) == (64, 96)


def _field(report: DriftReport, name: str) -> FieldDrift:
    return next(f for f in report.fields if f.field == name)


def test_bigger_photos_raise_the_size_figures_but_not_the_aspect_ratio(store: Store) -> None:
    rng = random.Random(5)
    now = utcnow()
    before = [rng.choice(PHONE) for _ in range(ROWS)]
    after = [rng.choice(PHONE) if i % 2 else CAMERA for i in range(ROWS)]
    unsized: list[Photo] = [(None, None, 150_000)] * 7  # stored before dimensions were recorded
    outputs = [dict(DEFAULT_LISTING)] * ROWS
    insert_requests(store.engine, now - 2 * WINDOW, WINDOW - timedelta(seconds=1), outputs, before)
    insert_requests(
        store.engine, now - WINDOW, WINDOW - timedelta(seconds=1), [*outputs, *outputs[:7]], after + unsized
    )

    report = measure(store.engine, DriftSettings(window=WINDOW), now)

    assert report.unsized == 7
    width, aspect, size = (_field(report, n) for n in ("image_width", "image_aspect_ratio", "image_bytes"))
    assert width.kind == "input" and width.reference_n == ROWS and width.current_n == ROWS
    assert size.current_n == ROWS + 7  # the byte size of every photo is known
    for found in (width, _field(report, "image_height"), size):
        assert found.comparison is not None and found.alarming, found
        top = found.comparison.shifts[0]
        # Bins are cut at the reference's values: the new size lands in the open bin above them.
        assert top.value.startswith(">") and top.reference == 0.0 and top.current == pytest.approx(0.5, abs=0.02)
    assert aspect.comparison is not None and aspect.comparison.psi == 0.0 and not aspect.alarming
    assert width.comparison is not None and width.comparison.psi > 2 * ALERT_PSI
