"""The review queue: each sampling strategy, leases under concurrent annotators, expiry and skips."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import timedelta

import httpx
import pytest

from extractor.service.app import create_app
from extractor.service.review.queue import ReviewQueue
from extractor.service.review.store import ReviewStore, Verdict
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, StubExtractor, make_config, png
from tests.service.test_review_helpers import seed

pytestmark = pytest.mark.service


def _review(store: Store, extraction_id: str, annotator: str = "someone", variant: str = "control") -> None:
    ReviewStore(store.engine).add(extraction_id, annotator, variant, {"color": Verdict(True, "brown")}, None)


def test_uniform_serves_only_unreviewed_ok_items(store: Store) -> None:
    ok = {seed(store, age_s=i) for i in range(3)}
    seed(store, status="error")
    seed(store, status="empty")
    done = seed(store, age_s=9)
    _review(store, done)
    queue = ReviewQueue(store.engine, 600)
    served = [queue.next(f"a{i}") for i in range(5)]
    assert set(served[:3]) == ok
    assert served[3:] == [None, None]


def test_thumbs_down_first(store: Store) -> None:
    seed(store, age_s=30)
    seed(store, rating="up", age_s=20)
    down = seed(store, rating="down", age_s=10)
    later_down = seed(store, rating="down", age_s=5)
    queue = ReviewQueue(store.engine, 600)
    assert queue.next("a", "thumbs_down") == down  # oldest thumbs-down first
    assert queue.next("b", "thumbs_down") == later_down
    assert queue.next("c", "thumbs_down") not in (down, later_down, None)


def test_seller_corrected_first(store: Store) -> None:
    seed(store, age_s=30)
    seed(store, final=dict(DEFAULT_LISTING), age_s=20)  # published unchanged: nothing corrected
    corrected = seed(store, final={**DEFAULT_LISTING, "color": "black"}, age_s=10)
    queue = ReviewQueue(store.engine, 600)
    for annotator in ("a", "b", "c"):
        first = queue.next(annotator, "corrected")
        assert (first == corrected) == (annotator == "a")


def test_stratified_takes_the_least_reviewed_variant_first(store: Store) -> None:
    control = [seed(store, variant="control", age_s=i) for i in range(4)]
    concise = {seed(store, variant="concise", age_s=i) for i in range(3)}
    queue = ReviewQueue(store.engine, 600)
    _review(store, control[0], variant="control")
    served = []
    for i in range(4):
        found = queue.next(f"r{i}", "stratified")
        assert found is not None
        served.append("concise" if found in concise else "control")
        _review(store, found, f"r{i}", served[-1])
    # reviews control:concise go 1:0 -> 1:1 (a tie goes by name) -> 1:2 -> 2:2 -> 2:3
    assert served == ["concise", "concise", "control", "concise"]


def test_reload_keeps_the_same_item_and_submit_releases_it(store: Store) -> None:
    ids = [seed(store, age_s=i) for i in range(2)]
    queue = ReviewQueue(store.engine, 600)
    first = queue.next("a")
    assert queue.next("a") == first and queue.held("a") == first
    _review(store, first or "", "a")
    assert queue.held("a") is None
    assert queue.next("a") == next(i for i in ids if i != first)


def test_reviewed_items_come_back_only_when_asked_and_never_to_their_reviewer(store: Store) -> None:
    only = seed(store)
    _review(store, only, "a")
    queue = ReviewQueue(store.engine, 600)
    assert queue.next("b") is None
    assert queue.next("b", include_reviewed=True) == only
    assert queue.next("a", include_reviewed=True) is None


def test_expired_lease_is_served_again(store: Store) -> None:
    only = seed(store)
    queue = ReviewQueue(store.engine, 600)
    now = utcnow()
    assert queue.next("a", now=now) == only
    assert queue.next("b", now=now + timedelta(seconds=599)) is None
    assert queue.next("b", now=now + timedelta(seconds=601)) == only
    assert queue.next("a", now=now + timedelta(seconds=602)) is None  # b holds it now


def test_skip_frees_the_item_for_others_but_not_for_the_skipper(store: Store) -> None:
    first, second = seed(store, age_s=1), seed(store, age_s=2)
    queue = ReviewQueue(store.engine, 600)
    now = utcnow()
    taken = queue.next("a", "corrected", now=now)
    assert taken in (first, second)
    queue.skip(taken or "", "a")
    other = queue.next("a", now=now)
    assert other is not None and other != taken
    assert queue.next("b", now=now) == taken
    assert queue.next("a", now=now + timedelta(seconds=1)) == other  # still holds its unskipped lease


def test_threads_never_get_the_same_item(store: Store) -> None:
    items = {seed(store, age_s=i, image=png((i, 9, 9))) for i in range(5)}
    queue = ReviewQueue(store.engine, 600)
    for round_ in range(3):
        barrier = threading.Barrier(8)
        served: list[str | None] = [None] * 8

        def annotate(i: int, r: int = round_, b: threading.Barrier = barrier, out: list[str | None] = served) -> None:
            b.wait()
            out[i] = queue.next(f"round{r}-annotator{i}")

        threads = [threading.Thread(target=annotate, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        got = [s for s in served if s is not None]
        assert len(got) == len(set(got)) == len(items) and set(got) == items
        with store.engine.begin() as conn:  # next round: every lease expired
            conn.exec_driver_sql("UPDATE review_leases SET expires_at = taken_at")


async def _concurrent_pages(store: Store, annotators: int) -> list[str]:
    app = create_app(make_config(store), StubExtractor(), store=store)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service", headers=AUTH) as client:
            pages = await asyncio.gather(*(client.get(f"/review?annotator=p{i}") for i in range(annotators)))
    finally:
        app.state.runner.close()
    assert all(page.status_code == 200 for page in pages)
    return [m.group(1) for p in pages if (m := re.search(r'name="extraction_id" value="(\w+)"', p.text))]


def test_concurrent_review_pages_serve_distinct_items(store: Store) -> None:
    items = {seed(store, age_s=i, image=png((i, 1, 1))) for i in range(4)}
    served = asyncio.run(_concurrent_pages(store, 10))
    assert sorted(served) == sorted(items)
