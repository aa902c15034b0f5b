"""Online scoring of live traffic: every finished row scored exactly once, under load, across restarts and replicas."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from extractor.judge import judge_field
from extractor.service.app import create_app
from extractor.service.online.scoring import judge_sampled
from extractor.service.online.store import INTERRUPTED, backlog
from extractor.service.storage.records import Finished, Pending, Upload, utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor, fake_extractor, make_config, png, upload
from tests.service.online_fakes import (
    CHECK_NAMES,
    RUBRIC,
    FakeGrader,
    drained,
    online_settings,
    results,
    score_all,
    scored_ids,
    worker_of,
)

pytestmark = pytest.mark.service

N = 200
SAMPLE = 0.25


async def _burst_and_score(app: FastAPI) -> tuple[list[str], str]:
    """200 concurrent uploads on the running app, then wait until the worker has scored them."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service", timeout=120) as client:
            photos = [png((i % 256, (i * 7) % 256, 60)) for i in range(N)]

            async def one(i: int) -> str:
                files = {"image": (f"{i}.png", photos[i], "image/png")}
                response = await client.post("/v1/extractions", files=files, headers={"X-User-Id": f"u{i}"})
                assert response.status_code == 200, response.text
                return str(response.json()["id"])

            ids = await asyncio.gather(*(one(i) for i in range(N)))
            await drained(app.state.runner.online, 120)
            metrics = (await client.get("/metrics", headers=AUTH)).text
    return list(ids), metrics


def test_every_request_under_load_is_scored_exactly_once(store: Store, fake_openai: FakeOpenAI) -> None:
    fake_openai.latency_s = 0.02
    grader = FakeGrader()
    config = make_config(store, online=online_settings(judge=True, judge_sample=SAMPLE))
    app = create_app(config, fake_extractor(fake_openai), store=store, grader=grader)
    try:
        ids, metrics = asyncio.run(_burst_and_score(app))
    finally:
        app.state.runner.close()
    assert backlog(store.engine) == 0
    assert scored_ids(store) == set(ids)
    stored = results(store)
    sampled = {i for i in ids if judge_sampled(i, SAMPLE)}
    assert 0 < len(sampled) < N
    checks = [r for r in stored if r.kind == "check"]
    judged = [r for r in stored if r.kind == "judge"]
    assert Counter(r.extraction_id for r in checks) == dict.fromkeys(ids, len(CHECK_NAMES))
    assert {r.extraction_id for r in judged} == sampled and len(judged) == len(sampled)
    assert len(grader.calls) == len(sampled) == len(set(grader.calls))  # no photo judged twice
    assert Counter((r.check, r.result) for r in checks) == {
        **{(name, "pass"): N for name in CHECK_NAMES if name != "condition:any_of"},
        ("condition:any_of", "fail"): N,
    }
    # Each stored result was counted once, by the replica that stored it.
    assert (
        f'listingeval_online_checks_total{{check="title:max_len",result="pass",variant="default"}} {float(N)}'
        in metrics
    )
    assert (
        f'listingeval_online_checks_total{{check="condition:any_of",result="fail",variant="default"}} {float(N)}'
        in metrics
    )
    assert f'listingeval_online_judge_total{{result="pass",variant="default"}} {float(len(sampled))}' in metrics
    assert "listingeval_online_backlog 0.0" in metrics


def test_the_admin_json_shows_the_online_results_once_scored(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    gate = threading.Event()
    grader = FakeGrader(passed=False, gate=gate)
    client = make_client(grader=grader, online=online_settings(judge=True))
    extraction_id = upload(client).json()["id"]
    assert grader.entered.acquire(timeout=10)
    waiting = client.get(f"/v1/extractions/{extraction_id}", headers=AUTH).json()
    assert waiting["online"] is None  # the judge has not answered: nothing is shown before the whole row is scored
    gate.set()
    client.portal.call(drained, worker_of(client), 30)  # type: ignore[union-attr]
    record = client.get(f"/v1/extractions/{extraction_id}", headers=AUTH).json()
    online = {r["check"]: r for r in record["online"]}
    assert set(online) == {*CHECK_NAMES, "description:judge"}
    assert online["condition:any_of"]["result"] == "fail" and online["condition:any_of"]["kind"] == "check"
    assert "used" in online["condition:any_of"]["reason"]
    assert online["title:max_len"]["result"] == "pass"
    assert online["description:judge"] == {
        "check": "description:judge",
        "field": "description",
        "kind": "judge",
        "result": "fail",
        "reason": "fake verdict on description",
    }
    fake_openai.enqueue(faults.server_error(500), faults.server_error(500))
    failed = upload(client, png((9, 9, 9)))
    assert failed.status_code == 502
    client.portal.call(drained, worker_of(client), 30)  # type: ignore[union-attr]
    # No served output: nothing to check, but scored, so the backlog drains.
    assert client.get(f"/v1/extractions/{failed.json()['error']['id']}", headers=AUTH).json()["online"] == []


def test_a_restart_in_the_middle_scores_every_row_once(store: Store, fake_openai: FakeOpenAI) -> None:
    gate = threading.Event()
    first = FakeGrader(gate=gate)
    settings = online_settings(judge=True, judge_max_concurrency=2, claim_lease_s=0.5)
    config = make_config(store, online=settings)
    try:
        with TestClient(create_app(config, fake_extractor(fake_openai), store=store, grader=first)) as before:
            ids = [upload(before, png((i, 3, 3))).json()["id"] for i in range(14)]
            for _ in range(2):  # both judge lanes are inside a call that will never be stored
                assert first.entered.acquire(timeout=10)
            # More rows while the worker is held up behind its judge lanes.
            ids += [upload(before, png((i, 4, 4))).json()["id"] for i in range(3)]
        in_flight = set(first.calls)
        assert len(in_flight) == 2 and scored_ids(store) == set()
        second = FakeGrader()
        with TestClient(create_app(config, fake_extractor(fake_openai), store=store, grader=second)) as after:
            score_all(after, store)
            metrics = after.get("/metrics", headers=AUTH).text
    finally:
        gate.set()
    assert scored_ids(store) == set(ids)
    stored = results(store)
    assert Counter(r.extraction_id for r in stored) == dict.fromkeys(ids, len(CHECK_NAMES) + 1)
    # Calls that may have been paid for are not made again: they stay errors, said so.
    assert not in_flight & set(second.calls) and len(second.calls) == len(set(second.calls)) == len(ids) - 2
    judged = {r.extraction_id: r for r in stored if r.kind == "judge"}
    interrupted = [r for r in judged.values() if r.result == "error"]
    assert len(interrupted) == 2 and {r.reason for r in interrupted} == {INTERRUPTED}
    assert sum(r.result == "pass" for r in judged.values()) == len(ids) - 2
    assert re.search(r'^listingeval_online_judge_total\{result="error",variant="default"\} 2\.0$', metrics, re.M)


def test_the_daily_call_budget_holds_and_the_rest_is_counted(make_client: ClientFactory, store: Store) -> None:
    grader = FakeGrader()
    client = make_client(grader=grader, online=online_settings(judge=True, judge_daily_calls=5))
    for i in range(12):
        upload(client, png((i, 5, 5)))
    score_all(client, store)
    judged = [r for r in results(store) if r.kind == "judge"]
    assert len(judged) == len(grader.calls) == 5
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'listingeval_online_judge_total{result="over_budget",variant="default"} 7.0' in metrics
    assert 'listingeval_online_judge_total{result="pass",variant="default"} 5.0' in metrics


def _judge_answer(request: object) -> dict[str, object] | None:
    schema = getattr(request, "json_schema", None) or {}
    return {"passed": True, "reason": "it says guitar"} if "passed" in schema.get("properties", {}) else None


def test_the_real_judge_grades_the_stored_photo_within_the_usd_budget(
    make_client: ClientFactory, store: Store, fake_openai: FakeOpenAI
) -> None:
    fake_openai.answer_using(_judge_answer)
    # A dear model, so that a few calls reach the budget: $3.30 reserved per call until costs are known.
    prices = {"gpt-4.1-mini": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}
    settings = online_settings(judge=True, prices=prices, judge_daily_budget_usd=5.0)
    client = make_client(online=settings)  # no grader given: the extractor's own judge, through the fake model
    for i in range(16):
        upload(client, png((i, 6, 6)))
    score_all(client, store)
    judged = [r for r in results(store) if r.kind == "judge"]
    spent = sum(r.cost_usd for r in judged)
    assert judged and spent <= 5.0, spent
    assert all(r.result == "pass" and r.reason == "it says guitar" for r in judged)
    assert all(r.rubric_version == settings.judges[0].version for r in judged)
    calls = [r for r in fake_openai.requests if _judge_answer(r) is not None]
    assert len(calls) == len(judged)
    assert all(len(r.images) == 1 and settings.judges[0].rubric in r.text and "guitar" in r.text for r in calls)
    metrics = client.get("/metrics", headers=AUTH).text
    over = re.search(r'^listingeval_online_judge_total\{result="over_budget",variant="default"\} (\S+)$', metrics, re.M)
    assert over is not None and float(over.group(1)) == 16 - len(judged)


def test_a_failed_judge_call_is_an_error_verdict_that_costs_nothing(
    make_client: ClientFactory, store: Store, fake_openai: FakeOpenAI
) -> None:
    fake_openai.answer_using(lambda r: faults.server_error(500) if _judge_answer(r) is not None else None)
    client = make_client(online=online_settings(judge=True))
    upload(client)
    score_all(client, store)
    (judged,) = [r for r in results(store) if r.kind == "judge"]
    assert judged.result == "error" and judged.reason.startswith("judge call failed") and judged.cost_usd == 0.0


def test_two_replicas_share_the_rows_and_the_budget(make_client: ClientFactory, store: Store) -> None:
    grader = FakeGrader(delay_s=0.01)
    settings = online_settings(judge=True, judge_daily_calls=7)
    replicas = [make_client(grader=grader, online=settings) for _ in range(2)]
    ids = [upload(replicas[i % 2], png((i, 7, 7)), user=f"u{i}").json()["id"] for i in range(40)]
    for replica in replicas:
        score_all(replica, store)
    assert scored_ids(store) == set(ids)
    stored = results(store)
    assert Counter(r.extraction_id for r in stored if r.kind == "check") == dict.fromkeys(ids, len(CHECK_NAMES))
    assert len([r for r in stored if r.kind == "judge"]) == len(grader.calls) == len(set(grader.calls)) == 7


def test_a_row_the_reaper_gave_up_on_is_scored_again_when_its_result_comes(
    make_client: ClientFactory, store: Store
) -> None:
    client = make_client(StubExtractor(), online=online_settings())
    data = png((8, 8, 8))
    pending = Pending("late" + "0" * 28, "u", "default", "m", "p", Upload(data, "a" * 64, "image/png"), utcnow())
    store.start(pending)
    store.reap(utcnow(), "gone")
    score_all(client, store)
    assert scored_ids(store) == {pending.id} and results(store) == []
    assert store.finish(pending.id, Finished("ok", DEFAULT_LISTING))
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(extractions.c.online_scored_at)).scalar_one() is None
    score_all(client, store)
    assert sorted(r.check for r in results(store)) == sorted(CHECK_NAMES)


def test_the_eval_harness_judge_is_the_same_judge(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.answer_using(_judge_answer)
    photo = tmp_path / "photo.png"
    photo.write_bytes(png())
    extractor = fake_extractor(fake_openai)
    assert judge_field(extractor, photo, RUBRIC, "description", "A guitar", "gpt-4.1-mini") == (True, "it says guitar")
    passed, reason = judge_field(extractor, tmp_path / "gone.png", RUBRIC, "description", "x", "gpt-4.1-mini")
    assert not passed and reason.startswith("judge could not read the image")


def test_old_rows_get_their_checks_but_no_judge(make_client: ClientFactory, store: Store) -> None:
    grader = FakeGrader()
    client = make_client(StubExtractor(), grader=grader, online=online_settings(judge=True))
    old = Pending("0ld" + "0" * 29, "u", "default", "m", "p", Upload(b"x", "c" * 64, "image/png"), utcnow())
    store.start(replace(old, created_at=utcnow() - timedelta(days=2)))
    assert store.finish(old.id, Finished("ok", DEFAULT_LISTING))
    score_all(client, store)
    assert sorted(r.check for r in results(store)) == sorted(CHECK_NAMES) and grader.calls == []
