"""POST /v1/extractions: every status path stores a row and answers with the documented code."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from extractor import images
from extractor.service.storage.records import LogFilter
from extractor.service.storage.store import Store
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, png, upload

pytestmark = pytest.mark.service


def _metric(client: TestClient, line_start: str) -> float:
    text = client.get("/metrics", headers=AUTH).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_ok_stores_row_and_answers_listing(client: TestClient, store: Store) -> None:
    response = upload(client, user="alice")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "variant", "listing", "latency_ms"}
    assert body["variant"] == "default"
    assert body["listing"] == DEFAULT_LISTING
    row = store.get(body["id"])
    assert row is not None
    assert (row.status, row.user_id, row.model, row.output) == (
        "ok",
        "alice",
        "gpt-4.1-mini",
        DEFAULT_LISTING,
    )
    assert row.prompt_id.startswith("default-")
    assert row.input_tokens and row.output_tokens
    assert row.latency_ms is not None and row.latency_ms >= 0
    assert store.image(row.image_sha256 or "") is not None
    assert _metric(client, 'listingeval_requests_total{status="ok",variant="default"}') == 1
    assert _metric(client, 'listingeval_latency_seconds_count{variant="default"}') == 1
    assert _metric(client, 'listingeval_tokens_total{kind="input",variant="default"}') > 0


def test_same_image_is_stored_once(client: TestClient, store: Store) -> None:
    first, second = upload(client).json()["id"], upload(client).json()["id"]
    rows = [store.get(first), store.get(second)]
    assert rows[0] and rows[1] and rows[0].image_sha256 == rows[1].image_sha256
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM images").scalar_one() == 1


def test_anonymous_users_get_random_ids(client: TestClient, store: Store) -> None:
    ids = [upload(client).json()["id"] for _ in range(2)]
    users = {row.user_id for row in (store.get(i) for i in ids) if row}
    assert len(users) == 2 and all(u.startswith("anon-") for u in users)


_BLANK = {**DEFAULT_LISTING, "title": " ", "description": " "}


@pytest.mark.parametrize(
    ("program", "status", "http", "error_type"),
    [
        pytest.param(lambda f: f.answer_with(_BLANK), "empty", 502, "empty_output", id="blank-listing"),
        pytest.param(
            lambda f: f.enqueue(faults.invalid_json("")),
            "empty",
            502,
            "empty_output",
            id="no-output",
        ),
        pytest.param(
            lambda f: f.enqueue(faults.server_error(), faults.server_error()),
            "error",
            502,
            "api_error",
            id="500s-exhausted",
        ),
        pytest.param(lambda f: f.enqueue(faults.bad_request()), "error", 502, "api_error", id="400"),
        pytest.param(lambda f: f.enqueue(faults.incomplete()), "error", 502, "incomplete", id="incomplete"),
        pytest.param(lambda f: f.enqueue(faults.refusal()), "refusal", 502, "refusal", id="refusal"),
    ],
)
def test_model_failures_store_row_and_answer_502(
    client: TestClient,
    store: Store,
    fake_openai: FakeOpenAI,
    program: Any,
    status: str,
    http: int,
    error_type: str,
) -> None:
    program(fake_openai)
    response = upload(client)
    assert response.status_code == http, response.text
    error = response.json()["error"]
    assert (error["type"], error["status"], error["variant"]) == (error_type, status, "default")
    assert error["message"]
    row = store.get(error["id"])
    assert row is not None
    assert (row.status, row.error_type) == (status, error_type)
    assert _metric(client, f'listingeval_requests_total{{status="{status}",variant="default"}}') == 1


def test_bad_request_error_names_the_api_status(client: TestClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(faults.bad_request("model_not_found"))
    error = upload(client).json()["error"]
    assert "400" in error["message"] and "model_not_found" in error["message"]


def test_invalid_image_is_400_and_not_stored(client: TestClient, store: Store, fake_openai: FakeOpenAI) -> None:
    response = upload(client, b"this is not an image at all")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_image" and "id" not in error
    assert store.count() == 0
    assert fake_openai.requests == []
    assert _metric(client, 'listingeval_requests_total{status="invalid_image",variant="default"}') == 1


def test_the_model_gets_the_stored_photo_as_prepared(client: TestClient, store: Store, fake_openai: FakeOpenAI) -> None:
    response = upload(client, png((40, 80, 120)))
    assert response.status_code == 200, response.text
    row = store.get(response.json()["id"])
    stored = store.image(row.image_sha256 or "") if row else None
    assert stored is not None
    assert fake_openai.requests[-1].images == (images.prepare_image(stored[0]).data,)


def test_slow_model_hits_the_deadline_and_keeps_the_row(
    make_client: ClientFactory, store: Store, fake_openai: FakeOpenAI
) -> None:
    client = make_client(deadline_s=0.3)
    fake_openai.enqueue(faults.stall(3))
    started = time.monotonic()
    response = upload(client)
    assert time.monotonic() - started < 2
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "timeout"
    assert "deadline" in error["message"]
    row = store.get(error["id"])
    assert row is not None and (row.status, row.error_type) == ("error", "timeout")
    assert row.latency_ms is not None and 250 <= row.latency_ms < 2000


def test_pending_row_exists_while_the_model_runs(make_client: ClientFactory, store: Store) -> None:
    seen: list[str | None] = []

    class Peeking:
        def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Any:
            rows, _ = store.page(LogFilter(), 0, 5)
            seen.extend(r.status for r in rows)
            raise RuntimeError("model client blew up")

    client = make_client(extractor=Peeking())
    response = upload(client)
    assert seen == ["pending"]
    assert response.status_code == 500
    rows, total = store.page(LogFilter(), 0, 5)
    assert total == 1 and rows[0].status == "error" and rows[0].error_type == "internal"


def test_sticky_variant_through_the_api(make_client: ClientFactory, store: Store) -> None:
    from extractor.service.config import Variant

    client = make_client(variants=(Variant("a", "gpt-4.1-mini", "default", 1), Variant("b", "gpt-4.1", "concise", 1)))
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        seen = {upload(client, png((10, 20, 30)), user=user).json()["variant"] for _ in range(3)}
        assert len(seen) == 1
    rows, _ = store.page(LogFilter(), 0, 50)
    models = {(r.variant, r.model) for r in rows}
    assert models <= {("a", "gpt-4.1-mini"), ("b", "gpt-4.1")} and len(models) == 2
