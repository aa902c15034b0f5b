"""Review figures on the dashboard, exact on a small seeded database."""

from __future__ import annotations

import re
import time

import pytest

from extractor.service.config import Variant
from extractor.service.review.store import ReviewStore, Verdict
from extractor.service.storage.store import Store
from pytest_listingeval.stats import wilson_interval
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor
from tests.service.test_review_helpers import seed

pytestmark = pytest.mark.service


def _table(html: str, table_id: str) -> dict[str, list[str]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert body, table_id
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", body.group(1), re.S)
    return {name: re.findall(r'<td class="num">(.*?)</td>', cells) for name, cells in rows}


def _cell(correct: int, n: int) -> str:
    low, high = wilson_interval(correct, n)
    return f"{correct / n:.1%} [{low:.1%}, {high:.1%}] n={n}"


def test_dashboard_review_figures(make_client: ClientFactory, store: Store) -> None:
    client = make_client(
        extractor=StubExtractor(),
        variants=(Variant("control", "m", "default", 1), Variant("concise", "m", "concise", 1)),
    )
    a = seed(store, final={**DEFAULT_LISTING, "color": "black"})  # the seller corrected the colour
    b = seed(store, final={**DEFAULT_LISTING, "color": "white"})
    c = seed(store)
    seed(store)  # ok, never reviewed
    seed(store, status="error")  # not reviewable: left out
    e = seed(store, variant="concise", final={**DEFAULT_LISTING, "title": "Teapot"})
    seed(store, variant="concise")
    reviews = ReviewStore(store.engine)
    right, wrong = Verdict(True, "x"), Verdict(False, "y")

    def review(extraction_id: str, variant: str = "control", **fields: Verdict) -> None:
        reviews.add(extraction_id, "r", variant, fields, None)
        time.sleep(0.01)  # distinct timestamps: the latest review of an extraction wins

    review(a, color=right)  # replaced by the next review of a
    review(a, title=right, color=wrong, category=right)
    review(b, color=right, category=wrong)
    review(c, color=wrong)
    review(e, "concise", color=right)

    html = client.get("/dashboard?window=1h", headers=AUTH).text
    assert _table(html, "review-share") == {
        "control": ["4", "3", "75.0%"],
        "concise": ["2", "1", "50.0%"],
        "all variants": ["6", "4", "66.7%"],
    }
    accuracy = _table(html, "review-accuracy")
    # columns: title, description, category, color, brand, condition
    assert accuracy["control"] == [_cell(1, 1), "-", _cell(1, 2), _cell(1, 3), "-", "-"]
    assert accuracy["concise"] == ["-", "-", "-", _cell(1, 1), "-", "-"]
    assert accuracy["all variants"] == [_cell(1, 1), "-", _cell(1, 2), _cell(2, 4), "-", "-"]
    assert _cell(1, 3) == "33.3% [6.1%, 79.2%] n=3"
    agreement = _table(html, "review-agreement")
    # published and reviewed, seller corrected, reviewer also wrong, reviewer marked wrong, seller also corrected
    assert agreement["color"] == ["3", "2", "50.0%", "1", "100.0%"]
    assert agreement["category"] == ["2", "0", "-", "1", "0.0%"]
    assert agreement["title"] == ["1", "0", "-", "0", "-"]
    assert agreement["brand"] == ["0", "0", "-", "0", "-"]


def test_dashboard_without_reviews_shows_dashes(make_client: ClientFactory, store: Store) -> None:
    seed(store, variant="default")
    html = make_client(extractor=StubExtractor()).get("/dashboard", headers=AUTH).text
    assert _table(html, "review-share")["default"] == ["1", "0", "0.0%"]
    assert _table(html, "review-accuracy")["default"] == ["-"] * 6
