"""Ground truth from production: accuracy and coverage per field, variant and time bucket, by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from extractor.service.quality.truth import Source, VariantTruth, collect_truth
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from pytest_listingeval import wilson_interval
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.quality_rows import insert_requests, publish, review

pytestmark = pytest.mark.service

HOUR = timedelta(hours=1)


def _counts(truth: VariantTruth, source: Source, name: str) -> list[tuple[int, int, int]]:
    """(right, verdicts, answered) for the whole window, then each bucket."""
    periods = [truth.whole, *truth.buckets]
    return [(p.truth[source][name].correct, p.truth[source][name].n, p.served) for p in periods]


def test_accuracy_and_coverage_per_bucket_equal_a_hand_count(store: Store) -> None:
    engine = store.engine
    now = utcnow().replace(microsecond=0)
    since = now - 6 * HOUR  # three buckets of two hours
    one = [dict(DEFAULT_LISTING)]
    r1, r2, r3, _r4 = insert_requests(engine, since + 10 * timedelta(minutes=1), HOUR, one * 4, variant="a")
    insert_requests(engine, since + HOUR, HOUR, [None], variant="a", status="error")  # not answered: left out
    r5, _r6 = insert_requests(engine, since + 2 * HOUR, HOUR, one * 2, variant="a")
    (b1,) = insert_requests(engine, since + 5 * HOUR, HOUR, one, variant="b")
    (old,) = insert_requests(engine, since - HOUR, HOUR, one, variant="a")  # before the window
    publish(engine, r1, ["color"])
    publish(engine, r2, [])
    publish(engine, r5, ["title", "color"])
    publish(engine, b1, [])
    publish(engine, old, [])
    review(engine, r3, now, title=True, color=False)
    review(engine, r5, now - HOUR, color=True)  # replaced by the later review of r5
    review(engine, r5, now, color=False, category=True)

    found = {t.variant: t for t in collect_truth(engine, since, now, ["a", "c"], buckets=3)}

    assert list(found) == ["a", "c", "b"]  # configured first, then any seen
    a = found["a"]
    assert [(p.start, p.end) for p in a.buckets] == [
        (since + i * 2 * HOUR, since + (i + 1) * 2 * HOUR) for i in range(3)
    ]
    # published: r1 (colour corrected), r2 (none) in bucket 0; r5 (title and colour) in bucket 1; 6 answered in all
    assert _counts(a, "published", "color") == [(1, 3, 6), (1, 2, 4), (0, 1, 2), (0, 0, 0)]
    assert _counts(a, "published", "title") == [(2, 3, 6), (2, 2, 4), (0, 1, 2), (0, 0, 0)]
    assert _counts(a, "published", "brand") == [(3, 3, 6), (2, 2, 4), (1, 1, 2), (0, 0, 0)]
    # reviewed: r3 (title right, colour wrong) in bucket 0; r5's latest review (colour wrong, category right) in 1
    assert _counts(a, "reviewed", "color") == [(0, 2, 6), (0, 1, 4), (0, 1, 2), (0, 0, 0)]
    assert _counts(a, "reviewed", "title") == [(1, 1, 6), (1, 1, 4), (0, 0, 2), (0, 0, 0)]
    assert _counts(a, "reviewed", "category") == [(1, 1, 6), (0, 0, 4), (1, 1, 2), (0, 0, 0)]
    assert _counts(a, "reviewed", "brand") == [(0, 0, 6), (0, 0, 4), (0, 0, 2), (0, 0, 0)]

    assert a.whole.coverage("published", "color") == 3 / 6
    assert a.whole.coverage("reviewed", "color") == 2 / 6
    assert a.whole.coverage("reviewed", "brand") == 0.0
    assert a.buckets[2].coverage("published", "color") is None  # nothing answered in that bucket
    color = a.whole.truth["published"]["color"]
    assert color.accuracy == 1 / 3 and color.interval == wilson_interval(1, 3)
    assert a.whole.truth["reviewed"]["brand"].interval is None

    assert found["c"].whole.served == 0
    assert _counts(found["b"], "published", "color") == [(1, 1, 1), (0, 0, 0), (0, 0, 0), (1, 1, 1)]
    assert found["b"].whole.coverage("reviewed", "title") == 0.0


def test_the_whole_history_starts_at_the_oldest_answered_request(store: Store) -> None:
    now = utcnow().replace(microsecond=0)
    first = now - 10 * HOUR
    insert_requests(store.engine, first, HOUR, [dict(DEFAULT_LISTING)], variant="a")
    insert_requests(store.engine, now - HOUR, HOUR, [dict(DEFAULT_LISTING)], variant="a")
    (a,) = collect_truth(store.engine, None, now, ["a"], buckets=2)
    assert a.whole.start == first and a.whole.served == 2
    assert [b.served for b in a.buckets] == [1, 1]
