"""Rollouts through the running service: rows carry their arm, guardrails halt a bad candidate, the API and page."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from extractor.outcome import Extraction, ExtractionFailure, Outcome, Usage
from extractor.schema import Listing
from extractor.service.config import ServiceConfig, Variant
from extractor.service.rollout.commands import Rollouts
from extractor.service.rollout.settings import RolloutSettings
from extractor.service.rollout.snapshot import RolloutPolicy
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, png, service_app, upload

pytestmark = pytest.mark.service

VARIANTS = (Variant("control", "m-control", "default", 1.0), Variant("new", "m-new", "default", 0.0))
CANDIDATE_LISTING = {**DEFAULT_LISTING, "title": "A different title", "color": "blue"}


class TwoModels:
    """The control model answers the default listing; the candidate answers another, or fails when told to."""

    def __init__(self) -> None:
        self.candidate_fails = False
        self.candidate_gate: threading.Event | None = None

    def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Outcome:
        if model == "m-new":
            if self.candidate_gate is not None:
                self.candidate_gate.wait(10)
            if self.candidate_fails:
                return ExtractionFailure("api_error", "boom", model=model, status=500, code="InternalServerError")
            return Extraction(Listing.model_validate(CANDIDATE_LISTING), model, "default@new", None, Usage(10, 5), 1)
        return Extraction(Listing.model_validate(DEFAULT_LISTING), model or "m", "default@c", None, Usage(10, 5), 1)


def policy(**changes: Any) -> RolloutSettings:
    # The watch is left to the tests (hourly), which call `check` when they want a decision.
    return RolloutSettings(policy=replace(RolloutPolicy(), **changes), check_interval_s=3600)


def build(make_client: ClientFactory, models: TwoModels, **changes: Any) -> tuple[TestClient, Rollouts]:
    client = make_client(models, variants=VARIANTS, rollout=policy(**changes))
    config: ServiceConfig = service_app(client).state.config
    return client, Rollouts(config, service_app(client).state.store.engine)


def rows(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(extractions.select()).all())


def test_rows_of_the_rollout_carry_its_id_and_the_variant_the_user_got(
    make_client: ClientFactory, store: Store
) -> None:
    client, rollouts = build(make_client, TwoModels())
    rollout = rollouts.start("new", "control", (50.0, 100.0), "ada")
    answers = {}
    for i in range(40):
        response = upload(client, png((i, 0, 0)), user=f"u{i}")
        assert response.status_code == 200
        answers[f"u{i}"] = response.json()["variant"]
    assert set(answers.values()) == {"control", "new"}
    stored = {row.user_id: (row.variant, row.rollout_id) for row in rows(store)}
    assert stored == {user: (variant, rollout.id) for user, variant in answers.items()}
    title = {r.json()["variant"]: r.json()["listing"]["title"] for r in [upload(client, png(), user="u0")]}
    assert title[answers["u0"]] == (CANDIDATE_LISTING if answers["u0"] == "new" else DEFAULT_LISTING)["title"]


def test_users_keep_the_candidate_when_the_rollout_advances(make_client: ClientFactory) -> None:
    client, rollouts = build(make_client, TwoModels(), min_requests=0)
    rollouts.start("new", "control", (25.0, 50.0, 100.0), "ada")
    users = [f"user-{i}" for i in range(60)]
    before = {u for u in users if upload(client, png(), user=u).json()["variant"] == "new"}
    rollouts.advance("ada")
    after = {u for u in users if upload(client, png(), user=u).json()["variant"] == "new"}
    assert before and before < after


def test_a_failing_candidate_is_halted_and_then_nobody_gets_it(make_client: ClientFactory, store: Store) -> None:
    models = TwoModels()
    models.candidate_fails = True
    client, rollouts = build(make_client, models, min_halt_requests=10)
    rollouts.start("new", "control", (50.0, 100.0), "ada")
    for i in range(80):
        upload(client, png(), user=f"u{i}")
    decision = rollouts.check(service_app(client).state.metrics)
    assert decision is not None and decision.action == "halt" and "error_rate" in decision.breaches
    status = rollouts.status()
    assert status.state == "halted"
    assert status.events[-1].kind == "auto_halt" and status.events[-1].by == "guardrail"
    assert "error_rate" in status.events[-1].why
    # The next request on any replica reads the new routing: every user is on the control.
    assert {upload(client, png(), user=f"u{i}").json()["variant"] for i in range(80)} == {"control"}
    metrics = client.get("/metrics", headers=AUTH).text
    assert re.search(r"^listingeval_rollout_auto_halts_total 1\.0$", metrics, re.M)
    assert re.search(r'^listingeval_rollout_guardrail_breached\{guardrail="error_rate"\} 1\.0$', metrics, re.M)
    assert re.search(r'^listingeval_rollout_share\{variant="control"\} 1\.0$', metrics, re.M)


def test_a_healthy_candidate_is_not_halted_and_advances_once_it_has_the_sample(make_client: ClientFactory) -> None:
    client, rollouts = build(make_client, TwoModels(), min_requests=15, min_halt_requests=10)
    rollouts.start("new", "control", (50.0, 100.0), "ada")
    refused = client.post("/v1/rollout/advance", json={"why": "too early"}, headers=AUTH)
    assert refused.status_code == 409 and "keep running" in refused.json()["error"]["message"]
    for i in range(80):
        upload(client, png(), user=f"u{i}")
    assert rollouts.check(service_app(client).state.metrics).action == "advance"  # type: ignore[union-attr]
    advanced = client.post("/v1/rollout/advance", json={"why": "sample reached", "by": "ada"}, headers=AUTH)
    assert advanced.status_code == 200
    body = advanced.json()
    assert (body["state"], body["step_percent"], body["shares"]) == ("running", 100.0, {"new": 1.0})
    assert body["events"][-1]["kind"] == "advance" and body["events"][-1]["by"] == "ada"


def test_the_rollout_json_answers_the_contract(make_client: ClientFactory) -> None:
    client, rollouts = build(make_client, TwoModels(), min_halt_requests=5)
    assert client.get("/v1/rollout", headers=AUTH).json()["state"] == "none"
    rollouts.start("new", "control", (50.0, 100.0), "ada", "why not")
    for i in range(20):
        upload(client, png(), user=f"u{i}")
    body = client.get("/v1/rollout", headers=AUTH).json()
    assert {"candidate", "control", "state", "step_percent", "shares", "events", "metrics"} <= set(body)
    assert (body["candidate"], body["control"], body["state"], body["step_percent"]) == (
        "new",
        "control",
        "running",
        50.0,
    )
    assert body["shares"] == {"control": 0.5, "new": 0.5}
    assert body["events"][0] | {"at": "x"} == {
        "at": "x",
        "kind": "start",
        "by": "ada",
        "why": "why not",
        "step_percent": 50.0,
    }
    error_rate = body["metrics"]["error_rate"]
    assert set(error_rate) >= {"control", "candidate", "diff", "ci"} and len(error_rate["ci"]) == 2
    assert body["decision"]["action"] in ("advance", "keep_running")


def test_the_rollout_api_needs_the_admin_and_json(make_client: ClientFactory) -> None:
    client, _ = build(make_client, TwoModels())
    assert client.get("/v1/rollout").status_code == 401
    assert client.post("/v1/rollout/halt", json={}).status_code == 401
    assert client.post("/v1/rollout/halt", json={}, headers=AUTH).status_code == 409
    text = client.post("/v1/rollout/halt", content=b"{}", headers={**AUTH, "Content-Type": "text/plain"})
    assert text.status_code == 415
    assert client.post("/v1/rollout/explode", json={}, headers=AUTH).status_code in (400, 404)


def test_the_rollout_page_shows_the_step_the_metrics_and_the_decision(make_client: ClientFactory) -> None:
    client, rollouts = build(make_client, TwoModels(), min_halt_requests=5)
    assert "No rollout yet" in client.get("/dashboard/rollout", headers=AUTH).text
    rollouts.start("new", "control", (50.0, 100.0), "ada", "first try")
    for i in range(10):
        upload(client, png(), user=f"u{i}")
    page = client.get("/dashboard/rollout", headers=AUTH)
    assert page.status_code == 200
    html = page.text
    assert 'id="rollout-decision"' in html and "Decision:" in html
    assert "error_rate" in html and "p95_latency_ms" in html and "first try" in html
    assert "<strong>50 %</strong>" in html
