"""Online evaluation in tests: the settings, a judge that records and can wait, and waiting for scoring."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import anyio
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.judge import Grade
from extractor.outcome import Usage
from extractor.service.online.settings import OnlineSettings, parse_online
from extractor.service.online.store import backlog
from extractor.service.online.worker import OnlineWorker
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions, online_results
from tests.service.conftest import service_app

# On the fake's guitar listing: title, description and brand pass, condition (`used`) fails.
CHECKS: dict[str, Any] = {
    "title": {"max_len": 80},
    "description": {"regex": "guitar"},
    "brand": {"is_null": True},
    "condition": {"any_of": ["new", "like_new"]},
}
CHECK_NAMES = ("brand:null", "condition:any_of", "description:regex", "title:max_len")
RUBRIC = "The description says what the item is and mentions nothing the photo does not show."
JUDGE_MODEL = "gpt-4.1-mini"
PRICES = {JUDGE_MODEL: {"input_per_mtok": 0.4, "output_per_mtok": 1.6}}


def online_settings(
    judge: bool = False, prices: dict[str, dict[str, float]] | None = None, **table: Any
) -> OnlineSettings:
    """The test checks (and a judge of `description`), read by the real parser, with quick timing."""
    values: dict[str, Any] = {"checks": CHECKS, "interval_s": 0.05, "claim_lease_s": 30.0}
    if judge:
        values |= {"judge": {"description": RUBRIC}, "judge_sample": 1.0, "judge_daily_calls": 10_000}
    return parse_online(values | table, JUDGE_MODEL, PRICES if prices is None else prices)


class FakeGrader:
    """A judge that records the photo of every call, may wait on a gate or sleep, and gives one verdict."""

    def __init__(
        self,
        passed: bool | None = True,
        delay_s: float = 0.0,
        gate: threading.Event | None = None,
        usage: Usage | None = None,
    ):
        self.passed = passed
        self.delay_s = delay_s
        self.gate = gate
        self.usage = usage or Usage(1000, 40)
        self.calls: list[str] = []
        self.entered = threading.Semaphore(0)
        self._lock = threading.Lock()

    def grade(self, image: bytes, rubric: str, field: str, value: Any, model: str) -> Grade:
        """Record the call, wait as told, answer the fixed verdict."""
        with self._lock:
            self.calls.append(hashlib.sha256(image).hexdigest())
        self.entered.release()
        if self.gate is not None:
            self.gate.wait(60)
        if self.delay_s:
            time.sleep(self.delay_s)
        return Grade(self.passed, f"fake verdict on {field}", self.usage)


def worker_of(client: TestClient) -> OnlineWorker:
    """The online worker of a test client's app."""
    worker: OnlineWorker = service_app(client).state.runner.online
    return worker


async def drained(worker: OnlineWorker, timeout_s: float) -> None:
    """Wait for the worker to be idle, failing after `timeout_s` seconds."""
    with anyio.fail_after(timeout_s):
        await worker.drain()


def score_all(client: TestClient, store: Store, timeout_s: float = 60.0) -> None:
    """Wait until every finished row is scored (passes repeat while leases held by a stopped replica run out)."""
    deadline = time.monotonic() + timeout_s
    worker = worker_of(client)
    while True:
        client.portal.call(drained, worker, max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
        if backlog(store.engine) == 0:
            return
        assert time.monotonic() < deadline, f"{backlog(store.engine)} rows still unscored"


def results(store: Store) -> list[Any]:
    """Every stored online result."""
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(online_results)).all())


def scored_ids(store: Store) -> set[str]:
    """The extractions marked scored."""
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(extractions.c.id).where(extractions.c.online_scored_at.is_not(None)))
        return set(found.scalars())
