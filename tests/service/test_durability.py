"""Nothing lost when the database blinks or the process dies; no model call past the deadline."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.errors import ConfigError
from extractor.service.app import create_app
from extractor.service.dashboard.stats import collect
from extractor.service.storage.durability import (
    DRAIN_INTERVAL_ENV,
    OUTBOX_ENV,
    REAP_GRACE_ENV,
    REAP_INTERVAL_ENV,
    Durability,
    default_outbox_dir,
)
from extractor.service.storage.outbox import Outbox, OutboxFull
from extractor.service.storage.reaper import reap_once
from extractor.service.storage.records import Finished, LogFilter, Pending, Upload, utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import (
    AUTH,
    ClientFactory,
    StubExtractor,
    fake_extractor,
    make_config,
    png,
    service_app,
    upload,
)
from tests.service.outages import outage_for, serving

pytestmark = pytest.mark.service

OK = Finished("ok", output=dict(DEFAULT_LISTING), model="gpt-4.1-mini", prompt_id="default-v1", latency_ms=12)


@pytest.fixture
def outbox_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private outbox for the apps of this test, drained and reaped often."""
    path = tmp_path / "outbox"
    monkeypatch.setenv(OUTBOX_ENV, str(path))
    monkeypatch.setenv(DRAIN_INTERVAL_ENV, "0.1")
    monkeypatch.setenv(REAP_INTERVAL_ENV, "0.2")
    monkeypatch.setenv(REAP_GRACE_ENV, "30")
    return path


def _pending(store: Store, age_s: float = 0.0, variant: str = "default") -> Pending:
    data = png((int(age_s) % 256, 9, 9))
    upload_ = Upload(data, hashlib.sha256(data).hexdigest(), "image/png")
    row = Pending(
        id=f"{time.time_ns():x}{int(age_s):04x}"[-32:],
        user_id="u1",
        variant=variant,
        model="gpt-4.1-mini",
        prompt_id="default-v1",
        upload=upload_,
        created_at=utcnow() - timedelta(seconds=age_s),
    )
    store.start(row)
    return row


def _status(store: Store, extraction_id: str) -> str | None:
    row = store.get(extraction_id)
    return None if row is None else row.status


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if predicate():
                return
        except sa.exc.OperationalError:
            pass  # the database is still cut off from the test too
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.05)


# -- deadline --------------------------------------------------------------------------------


def test_stalled_model_gets_one_attempt_within_the_deadline(
    make_client: ClientFactory, fake_openai: FakeOpenAI, outbox_dir: Path
) -> None:
    # As `default_extractor` does, the per-attempt timeout equals the deadline: before the fix
    # each timed-out attempt was retried (4 POSTs) after the request had already answered.
    fake_openai.latency_s = 3.0
    client = make_client(fake_extractor(fake_openai, attempts=4, timeout_s=0.5), deadline_s=0.5)
    started = time.monotonic()
    response = upload(client)
    assert response.status_code == 502 and response.json()["error"]["type"] == "timeout"
    assert time.monotonic() - started < 1.5
    time.sleep(max(0.0, started + 2.5 - time.monotonic()))
    assert len(fake_openai.requests) == 1


def test_retries_that_fit_before_the_deadline_run_and_no_more(
    make_client: ClientFactory, fake_openai: FakeOpenAI, outbox_dir: Path
) -> None:
    # 429s asking for 300 ms: attempts at 0 and 0.3 s; a third would start at 0.6 s, past 0.5 s.
    fake_openai.enqueue(*[faults.rate_limited(retry_after_s=None, retry_after_ms=300)] * 6)
    extractor = fake_extractor(fake_openai, attempts=6, backoff_max_s=1.0, timeout_s=5.0)
    client = make_client(extractor, deadline_s=0.5)
    response = upload(client)
    time.sleep(1.0)
    assert response.status_code == 502 and response.json()["error"]["type"] == "api_error"
    assert len(fake_openai.requests) == 2


def test_extractor_with_a_passed_deadline_makes_no_call(fake_openai: FakeOpenAI) -> None:
    outcome = fake_extractor(fake_openai).extract_bytes(png(), deadline=time.monotonic() - 1)
    assert not outcome.ok and outcome.code == "deadline_exceeded"
    assert fake_openai.requests == []


# -- reaper ----------------------------------------------------------------------------------


def test_reaper_marks_only_old_pending_rows_lost_once(store: Store) -> None:
    old = [_pending(store, age_s=120 + i) for i in range(3)]
    young = _pending(store, age_s=1)
    done = _pending(store, age_s=200)
    store.finish(done.id, OK)
    results: list[int] = []
    # Several replicas reaping at the same moment: each row is taken exactly once.
    threads = [threading.Thread(target=lambda: results.append(reap_once(store, 60, 30))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 3
    assert reap_once(store, 60, 30) == 0
    assert [_status(store, p.id) for p in old] == ["lost"] * 3
    assert _status(store, young.id) == "pending" and _status(store, done.id) == "ok"
    row = store.get(old[0].id)
    assert row is not None and row.error_type == "lost" and "90 s" in (row.error_message or "")
    _, total = store.page(LogFilter("lost"), 0, 1)
    assert total == 3


def test_overview_counts_pending_and_lost_rows(store: Store) -> None:
    for i in range(2):
        _pending(store, age_s=300 + i)
    _pending(store, age_s=2)
    reap_once(store, 60, 30)
    (stats,), _ = collect(store.engine, "1h", ["default"])
    assert (stats.pending, stats.lost, stats.requests) == (1, 2, 2)
    assert sum(bad for _, bad in stats.series) == 2


def test_overview_page_shows_pending_and_lost(make_client: ClientFactory, outbox_dir: Path) -> None:
    client = make_client(StubExtractor())
    store: Store = service_app(client).state.store
    for i in range(2):
        _pending(store, age_s=300 + i)
    _pending(store, age_s=2)
    reap_once(store, 60, 30)
    page = client.get("/dashboard?window=1h", headers=AUTH).text
    assert "<th>pending</th><th>lost</th>" in page
    assert '<td class="num">1</td><td class="num">2</td></tr>' in page  # one pending, two lost


# -- outbox ----------------------------------------------------------------------------------


def test_outbox_keeps_a_result_durably_and_drains_it_once(store: Store, tmp_path: Path) -> None:
    row = _pending(store, age_s=500)
    outbox = Outbox(tmp_path / "box")
    path = outbox.put(row.id, OK, utcnow())
    record = json.loads(path.read_text())
    assert record["version"] == 1 and record["id"] == row.id and record["finished"]["status"] == "ok"
    assert not list(path.parent.glob(".*"))  # no temporary file left behind
    reap_once(store, 60, 30)
    assert _status(store, row.id) == "lost"
    # Two processes draining the same directory: the result lands once, `lost` is overwritten.
    other = Outbox(tmp_path / "box")
    assert outbox.drain(store) + other.drain(store) == 1
    stored = store.get(row.id)
    assert stored is not None and stored.status == "ok" and stored.output == DEFAULT_LISTING
    assert len(outbox) == 0 and outbox.drain(store) == 0


def test_outbox_is_bounded_and_sets_aside_unreadable_files(store: Store, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "box", max_entries=2)
    rows = [_pending(store, age_s=i) for i in range(2)]
    for row in rows:
        outbox.put(row.id, OK, utcnow())
    with pytest.raises(OutboxFull):
        outbox.put("x" * 32, OK, utcnow())
    (tmp_path / "box" / "00000000000000000000-broken.json").write_text("{not json")
    assert outbox.drain(store) == 2
    assert [p.name for p in (tmp_path / "box").iterdir()] == ["00000000000000000000-broken.json.bad"]
    assert {_status(store, r.id) for r in rows} == {"ok"}


def test_default_outbox_sits_beside_a_sqlite_file() -> None:
    assert default_outbox_dir("sqlite:////srv/data/listingeval.db") == Path("/srv/data/listingeval.db.outbox")
    assert default_outbox_dir("postgresql+psycopg://u@h/db") == Path("listingeval-outbox")
    durability = Durability.from_env("sqlite:///x.db", {OUTBOX_ENV: "/tmp/box", REAP_GRACE_ENV: "5"})
    assert durability.outbox_dir == Path("/tmp/box") and durability.reap_grace_s == 5.0
    with pytest.raises(ConfigError, match=REAP_INTERVAL_ENV):
        Durability.from_env("sqlite:///x.db", {REAP_INTERVAL_ENV: "soon"})


def test_app_drains_results_left_by_a_previous_run_at_start_up(
    store: Store, make_client: ClientFactory, outbox_dir: Path
) -> None:
    row = _pending(store, age_s=5)
    Outbox(outbox_dir).put(row.id, OK, utcnow())
    make_client()
    _wait(lambda: _status(store, row.id) == "ok", 5, "the start-up drain")
    assert not list(outbox_dir.iterdir())


# -- database outages, one request at a time -------------------------------------------------


def test_pending_row_write_failing_is_503_before_the_model_is_called(
    store: Store, fake_openai: FakeOpenAI, outbox_dir: Path
) -> None:
    with outage_for(store) as outage:
        app = create_app(make_config(outage.store), fake_extractor(fake_openai), store=outage.store)
        with TestClient(app, raise_server_exceptions=False) as client:
            outage.cut(2.0)
            response = upload(client)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "database_unavailable"
    assert response.headers["retry-after"] == "1"
    assert fake_openai.requests == []
    assert store.count() == 0


def test_result_written_during_an_outage_is_returned_and_stored_later(
    store: Store, fake_openai: FakeOpenAI, outbox_dir: Path
) -> None:
    with outage_for(store) as outage:

        def cut_while_the_model_runs(_request: Any) -> None:
            outage.cut(1.5)  # longer than the write retries (0.75 s)
            return None

        fake_openai.answer_using(cut_while_the_model_runs)
        app = create_app(make_config(outage.store), fake_extractor(fake_openai), store=outage.store)
        with TestClient(app, raise_server_exceptions=False) as client:
            response = upload(client)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["listing"] == DEFAULT_LISTING
            assert app.state.runner.outbox.written == 1
            _wait(lambda: _status(store, body["id"]) == "ok", 10, "the outbox to drain")
    row = store.get(body["id"])
    assert row is not None and row.output == DEFAULT_LISTING and row.latency_ms is not None
    assert not list(outbox_dir.iterdir())


# -- a database outage under load ------------------------------------------------------------

CONCURRENCY = 50
OUTAGE_S = 3.0


async def _load(
    base_url: str, cut_at: float, cut: Any, in_flight: Any, kept_a_result: Any, attempts: int = 3
) -> list[tuple[int | str, Any]]:
    """Load the service; after `cut_at` s cut the database as a model call starts, again if no result was kept.

    On a slow machine a call's answer can take longer than the cut, so the first cut may end
    before any finished result meets it; up to `attempts` cuts make sure one does.
    """
    results: list[tuple[int | str, Any]] = []
    images = [png((i, 40, 80)) for i in range(CONCURRENCY)]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def worker(i: int) -> None:
            while not stop.is_set():
                files = {"image": (f"{i}.png", images[i], "image/png")}
                try:
                    response = await client.post("/v1/extractions", files=files, headers={"X-User-Id": f"u{i}"})
                except httpx.TransportError as exc:
                    results.append((f"{type(exc).__name__}: {exc}", None))
                    continue
                results.append((response.status_code, response.json()))

        async def cutter() -> None:
            await asyncio.sleep(cut_at)
            for _ in range(attempts):
                await in_flight()
                cut()
                await asyncio.sleep(OUTAGE_S + 0.5)
                if kept_a_result():
                    break
            await asyncio.sleep(1.0)
            stop.set()

        await asyncio.gather(cutter(), *(worker(i) for i in range(CONCURRENCY)))
    return results


def _model_call_started(fake: FakeOpenAI) -> Any:
    """Wait until a model call has just arrived, so that its result comes back while the database is down."""

    async def wait() -> None:
        while True:
            before = len(fake.requests)
            await asyncio.sleep(0.02)
            if len(fake.requests) > before:
                return

    return wait


def test_three_second_outage_under_load_loses_nothing(
    store: Store, fake_openai: FakeOpenAI, outbox_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_openai.latency_s = 0.3
    with outage_for(store) as outage:
        app = create_app(make_config(outage.store, deadline_s=10.0), fake_extractor(fake_openai), store=outage.store)
        runner = app.state.runner
        kept: list[Finished] = []
        put = runner.outbox.put

        def recorded_put(extraction_id: str, done: Finished, *args: Any, **kwargs: Any) -> Any:
            kept.append(done)
            return put(extraction_id, done, *args, **kwargs)

        runner.outbox.put = recorded_put
        with serving(app) as base_url:
            results = asyncio.run(
                _load(
                    base_url,
                    cut_at=1.0,
                    cut=lambda: outage.cut(OUTAGE_S),
                    in_flight=_model_call_started(fake_openai),
                    kept_a_result=lambda: any(done.error_type != "database_unavailable" for done in kept),
                )
            )
            _wait(lambda: len(runner.outbox) == 0, 20, "the outbox to drain")
    codes = [code for code, _ in results]
    assert all(code in (200, 503) for code in codes), sorted({str(c) for c in codes})
    ok = [body for code, body in results if code == 200]
    refused = [body for code, body in results if code == 503]
    # A refusal may queue a closing write (when its row might have been committed); the rest of
    # the outbox's writes are finished results kept while the database was down.
    results_kept = [done for done in kept if done.error_type != "database_unavailable"]
    assert len(ok) > CONCURRENCY and results_kept, (len(ok), len(refused), len(kept))
    assert all(body["error"]["type"] == "database_unavailable" for body in refused)
    with store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(extractions.c.id, extractions.c.status, extractions.c.output))}
    for body in ok:
        row = rows[body["id"]]
        assert row.status == "ok" and row.output == body["listing"]
    assert [r.id for r in rows.values() if r.status == "pending"] == []
    assert [r for r in caplog.records if r.exc_info] == []
    # One access line per request is by design; beyond those, the outage must not flood the log.
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "extractor.service.access"]
    assert len(loud) <= 10, [r.getMessage() for r in loud]
    access = [r for r in caplog.records if r.name == "extractor.service.access"]
    assert len(access) == len(results)


# -- kill -9 ---------------------------------------------------------------------------------


def _serve(tmp_path: Path, port: int) -> Any:
    env = {
        **os.environ,
        "LISTINGEVAL_ADMIN_TOKEN": "t0ken",
        REAP_GRACE_ENV: "0.5",
        REAP_INTERVAL_ENV: "0.2",
    }
    env.pop(OUTBOX_ENV, None)
    command = [sys.executable, "-m", "extractor.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            assert process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not come up in 60 s"
            time.sleep(0.1)


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    """Service subprocesses to kill when the test ends, however it ends."""
    started: list[Any] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_kill_minus_nine_with_requests_in_flight_leaves_lost_rows(
    tmp_path: Path, fake_openai_env: FakeOpenAI, processes: list[Any]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.listingeval]\nattempts = 1\n\n[tool.listingeval.service]\ndeadline_s = 3\n"
    )
    fake_openai_env.latency_s = 30.0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    processes.append(_serve(tmp_path, port))

    def post(i: int) -> None:
        files = {"image": (f"{i}.png", png((i, 1, 1)), "image/png")}
        with contextlib.suppress(httpx.TransportError):  # the service is killed under it
            httpx.post(f"http://127.0.0.1:{port}/v1/extractions", files=files, timeout=30)

    clients = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(5)]
    for thread in clients:
        thread.start()
    _wait(lambda: len(fake_openai_env.requests) == 5, 15, "5 model calls in flight")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'listingeval.db'}")
    try:

        def statuses() -> list[str]:
            with engine.connect() as conn:
                return sorted(conn.execute(sa.select(extractions.c.status)).scalars())

        assert statuses() == ["pending"] * 5
        processes[0].kill()
        processes[0].wait(timeout=10)
        for thread in clients:
            thread.join(timeout=10)
        assert statuses() == ["pending"] * 5
        processes.append(_serve(tmp_path, port))
        _wait(lambda: statuses() == ["lost"] * 5, 15, "the reaper")
        (stats,), _ = collect(engine, "1h", ["default"])
        assert (stats.requests, stats.pending, stats.lost) == (5, 0, 5)
    finally:
        engine.dispose()
    html = httpx.get(f"http://127.0.0.1:{port}/dashboard?window=1h", headers={"Authorization": "Bearer t0ken"}).text
    match = re.search(r"<tr><td>default</td><td class=\"num\">(\d+)</td>", html)
    assert match and match.group(1) == "5", html[:2000]
    assert len(fake_openai_env.requests) == 5  # the restarted service called nothing again
