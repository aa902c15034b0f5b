"""A user's request never waits for online scoring: the latency bound docs/online.md states."""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from fastapi.testclient import TestClient

from extractor.outcome import Outcome
from extractor.service.storage.store import Store
from tests.service.conftest import ClientFactory, StubExtractor, png, upload
from tests.service.online_fakes import FakeGrader, online_settings, score_all, scored_ids

pytestmark = pytest.mark.service

# docs/online.md: with online checks and a slow judge running, the median request takes at most this much longer.
LATENCY_BOUND_S = 0.025
REQUESTS = 40


class SlowModel(StubExtractor):
    """Takes 50 ms, as a real model's network wait would."""

    def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Outcome:
        """The stub's listing, after the wait."""
        time.sleep(0.05)
        return super().extract_bytes(raw, model, prompt)


def _median_latency(client: TestClient, shade: int) -> float:
    took = []
    for i in range(REQUESTS):
        started = time.perf_counter()
        response = upload(client, png((i, shade, 1)), user=f"u{i}")
        took.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(took)


def test_online_checks_and_a_slow_judge_stay_within_the_latency_bound(make_client: ClientFactory, store: Store) -> None:
    plain = make_client(SlowModel())
    _median_latency(plain, 1)  # warm up the database and the pools
    without = _median_latency(plain, 2)
    grader = FakeGrader(delay_s=0.2)
    online = make_client(SlowModel(), grader=grader, online=online_settings(judge=True))
    with_online = _median_latency(online, 3)
    assert grader.calls and scored_ids(store)  # the worker and the judge were busy during the run
    assert with_online - without < LATENCY_BOUND_S, (without, with_online)


def test_a_judge_that_does_not_answer_holds_up_no_request(make_client: ClientFactory, store: Store) -> None:
    gate = threading.Event()
    grader = FakeGrader(gate=gate)
    client = make_client(grader=grader, online=online_settings(judge=True, judge_max_concurrency=1))
    try:
        for i in range(10):  # more than the judge lane and its queue hold
            started = time.perf_counter()
            assert upload(client, png((i, 4, 4))).status_code == 200
            assert time.perf_counter() - started < 2, "a request waited for the judge"
        assert grader.entered.acquire(timeout=10)
        assert scored_ids(store) == set()
    finally:
        gate.set()
    score_all(client, store)
    assert len(scored_ids(store)) == 10
