"""Output drift: a planted shift raises the figure and the gauge over the alert's threshold, no change does not."""

from __future__ import annotations

import math
import random
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from extractor.schema import Category, Color
from extractor.service.extraction.metrics import Metrics
from extractor.service.quality.drift import ALERT_PSI, DriftReport, FieldDrift, measure
from extractor.service.quality.monitor import publish
from extractor.service.quality.psi import compare
from extractor.service.quality.settings import DriftSettings
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor
from tests.service.quality_rows import draw, insert_requests

pytestmark = pytest.mark.service

WINDOW = timedelta(hours=1)
ROWS = 800  # a window: with 12 categories the noise of an unchanged one is about 11 * 2 / 800 = 0.03
UNIFORM = {c.value: 1.0 for c in Category}
SHIFTED = {**UNIFORM, "electronics": 8.0}  # electronics from 1 in 12 to 8 in 19 of the requests
COLOURS = {c.value: 1.0 for c in Color}


def _seed_windows(engine: sa.Engine, before: dict[str, float], after: dict[str, float], seed: int) -> datetime:
    """Two windows (previous, current) of ROWS ok requests, categories and colours drawn as given; their end."""
    rng = random.Random(seed)
    now = utcnow()
    for start, weights in ((now - 2 * WINDOW, before), (now - WINDOW, after)):
        categories, colours = draw(rng, weights, ROWS), draw(rng, COLOURS, ROWS)
        outputs = [{**DEFAULT_LISTING, "category": c, "color": k} for c, k in zip(categories, colours, strict=True)]
        insert_requests(engine, start + timedelta(seconds=1), WINDOW - timedelta(seconds=2), outputs)
    return now


def _field(report: DriftReport, name: str) -> FieldDrift:
    return next(f for f in report.fields if f.field == name)


def test_a_planted_category_shift_crosses_the_threshold_and_the_gauge(store: Store) -> None:
    now = _seed_windows(store.engine, UNIFORM, SHIFTED, seed=1)
    report = measure(store.engine, DriftSettings(window=WINDOW), now)
    category, color = _field(report, "category"), _field(report, "color")
    assert category.kind == "output" and category.reference_n == ROWS and category.current_n == ROWS
    assert category.comparison is not None and category.exported and category.alarming
    assert category.comparison.psi > 2 * ALERT_PSI, category.comparison.psi
    assert category.comparison.p_value is not None and category.comparison.p_value < 1e-12
    top = category.comparison.shifts[0]
    assert top.value == "electronics" and top.current > 0.35 > 0.12 > top.reference
    assert color.psi is not None and color.psi < ALERT_PSI / 2 and not color.alarming
    assert [f.field for f in report.fields] == [
        "category",
        "color",
        "condition",
        "image_width",
        "image_height",
        "image_aspect_ratio",
        "image_bytes",
    ]

    metrics = Metrics()
    publish(report, metrics)
    gauge = metrics.registry.get_sample_value
    assert gauge("listingeval_drift", {"field": "category"}) == pytest.approx(category.comparison.psi)
    color_gauge = gauge("listingeval_drift", {"field": "color"})
    assert color_gauge is not None and color_gauge < ALERT_PSI / 2


def test_an_unchanged_period_stays_under_the_threshold(store: Store) -> None:
    now = _seed_windows(store.engine, UNIFORM, UNIFORM, seed=2)
    report = measure(store.engine, DriftSettings(window=WINDOW), now)
    for name in ("category", "color"):
        found = _field(report, name)
        assert found.comparison is not None and found.exported, name
        # Sampling noise only: about (bins - 1) * 2 / ROWS, far under the threshold.
        assert found.comparison.psi < min(3 * found.comparison.noise, ALERT_PSI / 2), (name, found.comparison)
        assert not found.alarming
    # Every request has the same photo and the same condition: nothing moved.
    assert _field(report, "image_width").psi == 0.0 and _field(report, "condition").psi == 0.0
    metrics = Metrics()
    publish(report, metrics)
    exported = metrics.registry.get_sample_value("listingeval_drift", {"field": "category"})
    assert exported is not None and exported < ALERT_PSI / 2


def test_too_few_rows_are_shown_but_not_exported(store: Store) -> None:
    now = _seed_windows(store.engine, UNIFORM, SHIFTED, seed=3)
    metrics = Metrics()
    publish(measure(store.engine, DriftSettings(window=WINDOW), now), metrics)
    assert metrics.registry.get_sample_value("listingeval_drift", {"field": "category"}) is not None
    report = measure(store.engine, DriftSettings(window=WINDOW, min_count=ROWS + 1), now)
    category = _field(report, "category")
    assert category.psi is not None and category.psi > ALERT_PSI and not category.exported and not category.alarming
    publish(report, metrics)  # the stale value goes with it
    assert metrics.registry.get_sample_value("listingeval_drift", {"field": "category"}) is None


def test_requests_without_a_listing_are_left_out_of_output_drift(store: Store) -> None:
    now = utcnow()
    insert_requests(store.engine, now - WINDOW, WINDOW / 2, [None] * 10, status="error")
    insert_requests(store.engine, now - WINDOW, WINDOW / 2, [dict(DEFAULT_LISTING)] * 3)
    report = measure(store.engine, DriftSettings(window=WINDOW, min_count=1), now)
    assert _field(report, "category").current_n == 3 and _field(report, "category").comparison is None
    assert _field(report, "image_bytes").current_n == 13  # every request's photo counts as input


def test_the_index_follows_its_definition_with_half_a_count_added() -> None:
    found = compare({"a": 50, "b": 50, "c": 0}, {"a": 90, "b": 10, "c": 0})
    assert found is not None
    p, q = (0.5, 0.5), (90.5 / 101, 10.5 / 101)  # "c" is empty on both sides: left out
    assert found.psi == pytest.approx(sum((y - x) * math.log(y / x) for x, y in zip(p, q, strict=True)))
    assert found.psi == pytest.approx(0.853, abs=1e-3)
    assert [s.value for s in found.shifts] == ["b", "a"] and found.shifts[0].current == 0.1
    assert found.noise == pytest.approx(1 * (1 / 100 + 1 / 100))
    one_sided = compare({"a": 10}, {"a": 5, "b": 5})
    assert one_sided is not None and math.isfinite(one_sided.psi) and one_sided.psi > ALERT_PSI
    assert compare({}, {"a": 1}) is None


def test_the_background_watch_exports_the_gauge(make_client: ClientFactory, store: Store) -> None:
    # The watch measures up to its own clock: a few seconds later, a few rows move a window back, no more.
    _seed_windows(store.engine, UNIFORM, SHIFTED, seed=4)
    client = make_client(extractor=StubExtractor(), drift=DriftSettings(window=WINDOW))
    deadline = time.monotonic() + 20
    found: list[str] = []
    pattern = re.compile(r'^listingeval_drift\{field="category"\} (\S+)$', re.M)
    while not found and time.monotonic() < deadline:
        # The watch measures once as the app starts, in a worker thread: poll for its first figure.
        found = pattern.findall(client.get("/metrics", headers=AUTH).text)
        time.sleep(0.05)
    assert found and float(found[0]) > ALERT_PSI


def test_the_alert_fires_at_the_threshold_the_page_marks() -> None:
    rules = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy/prometheus/alerts.yml").read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "ListingevalDrift"]
    assert rule["expr"].strip() == f"max by (field) (listingeval_drift) > {ALERT_PSI}"
