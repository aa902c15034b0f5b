"""`/dashboard/quality`: ground truth per field, variant and bucket, and drift per field, as the figures say."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest

from extractor.schema import Category
from extractor.service.quality.settings import DriftSettings
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from pytest_listingeval import wilson_interval
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor
from tests.service.quality_rows import draw, insert_requests, listings, publish, review
from tests.service.test_quality_reference import _eval_set

pytestmark = pytest.mark.service

HOUR = timedelta(hours=1)


def _truth_cells(html: str, variant: str, source: str) -> dict[str, list[str]]:
    table = re.search(
        rf'<table class="truth nowrap" data-variant="{variant}" data-source="{source}">(.*?)</table>', html, re.S
    )
    assert table, (variant, source)
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", table.group(1), re.S)
    return {name: re.findall(r'<td class="num">(.*?)</td>', cells) for name, cells in rows}


def _drift_row(html: str, name: str) -> tuple[str, list[str]]:
    row = re.search(rf'<tr data-field="{name}"([^>]*)>(.*?)</tr>', html, re.S)
    assert row, name
    return row.group(1), re.findall(r"<td[^>]*>(.*?)</td>", row.group(2), re.S)


def test_the_page_shows_ground_truth_and_drift(make_client: ClientFactory, store: Store) -> None:
    engine = store.engine
    now = utcnow()
    rng = random.Random(7)
    uniform = {c.value: 1.0 for c in Category}
    before = listings("category", draw(rng, uniform, 600))
    after = listings("category", draw(rng, {**uniform, "vehicles": 12.0}, 600))
    insert_requests(engine, now - 2 * HOUR + timedelta(minutes=1), 50 * timedelta(minutes=1), before)
    ids = insert_requests(engine, now - HOUR + timedelta(minutes=1), 50 * timedelta(minutes=1), after)
    publish(engine, ids[0], ["color"])
    publish(engine, ids[1], [])
    publish(engine, ids[2], ["color", "title"])
    review(engine, ids[3], now, color=False, brand=True)
    client = make_client(extractor=StubExtractor(), drift=DriftSettings(window=HOUR))

    response = client.get("/dashboard/quality?window=24h", headers=AUTH)

    assert response.status_code == 200, response.text
    html = response.text
    assert '<a href="/dashboard/quality">Quality</a>' in html
    low, high = wilson_interval(1, 3)
    published = _truth_cells(html, "default", "published")
    assert published["color"][0] == f"{1 / 3:.1%} [{low:.1%}, {high:.1%}]<br>n=3 · cov {3 / 1200:.1%}"
    assert published["brand"][0].startswith("100.0% ") and published["brand"][0].endswith(
        f"]<br>n=3 · cov {3 / 1200:.1%}"
    )
    assert len(published["color"]) == 7  # the whole window and six buckets
    reviewed = _truth_cells(html, "default", "reviewed")
    assert reviewed["color"][0].startswith("0.0% [") and reviewed["color"][0].endswith(f"]<br>n=1 · cov {1 / 1200:.1%}")
    assert reviewed["title"][0] == "-<br>n=0 · cov 0.0%"
    assert 'aria-label="accuracy of color over time for default"' in html

    style, cells = _drift_row(html, "category")
    assert style == ' class="wrong"' and cells[:2] == ["category", "output"]
    assert float(cells[2]) > 0.2 and cells[5:7] == ["600", "600"]
    assert cells[7].startswith("vehicles ")
    style, cells = _drift_row(html, "condition")
    assert style == "" and cells[2] == "0.000"
    assert "the window before, from" in html


def test_the_page_with_the_eval_reference_and_no_traffic(make_client: ClientFactory, tmp_path: Path) -> None:
    settings = DriftSettings(reference="eval", cases_dir=_eval_set(tmp_path))
    html = make_client(extractor=StubExtractor(), drift=settings).get("/dashboard/quality", headers=AUTH).text
    assert "the eval set's expected values and photos" in html
    style, cells = _drift_row(html, "category")
    assert style == ' class="quiet"' and cells[2] == "-" and cells[5:7] == ["3", "0"]
    assert _truth_cells(html, "default", "published")["color"] == ["-<br>n=0 · cov -"] * 7


def test_the_page_refuses_an_unknown_window_and_strangers(make_client: ClientFactory) -> None:
    client = make_client(extractor=StubExtractor())
    response = client.get("/dashboard/quality?window=2d", headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]["type"] == "bad_request"
    assert client.get("/dashboard/quality").status_code == 401
    assert '<a href="/dashboard/quality">Quality</a>' in client.get("/dashboard", headers=AUTH).text


def test_the_page_counts_photos_without_dimensions(make_client: ClientFactory, store: Store) -> None:
    insert_requests(store.engine, utcnow() - HOUR / 2, HOUR / 4, [dict(DEFAULT_LISTING)] * 2, [(None, None, 9)] * 2)
    html = make_client(extractor=StubExtractor()).get("/dashboard/quality", headers=AUTH).text
    assert "2 requests of the window have a photo stored before its dimensions were recorded" in html
