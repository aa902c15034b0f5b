"""The published OpenAPI document: served, complete, and what the service answers (checked by schemathesis)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import fastapi.routing
import pytest
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from extractor.outcome import ExtractionFailure, Outcome
from extractor.service.app import create_app
from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.runner import ExtractorLike
from extractor.service.storage.records import Finished, Pending, Upload, utcnow
from extractor.service.storage.store import Store
from tests.fakes.shapes import DEFAULT_LISTING
from tests.service.conftest import ADMIN_TOKEN, AUTH, StubExtractor, make_config, png

pytestmark = pytest.mark.service

# Called with allow_redirects=False: a documented 303 is the answer under test, not the page it leads to.
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CHECKS = [not_a_server_error, *CONFORMANCE]
MAX_EXAMPLES = 25
SEED = 20261201
# An extraction stored before each run, so that the routes about one extraction answer more than 404.
STORED_ID = "5eed" * 8


def _routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """Every API route's path and methods, included routers' routes too."""
    # FastAPI versions differ in how included routers are kept; newer ones list them through route contexts.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(iterate(app.routes)) if iterate else [r for r in app.routes if isinstance(r, APIRoute)]
    return [(r.path, set(r.methods)) for r in routes if r.path != app.openapi_url]


def test_the_document_is_served_and_lists_every_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    spec = response.json()
    app = client.app
    assert isinstance(app, FastAPI)
    routes = {(path, method.lower()) for path, methods in _routes(app) for method in methods}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes and documented == routes
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert "422" not in statuses, f"{method} {path}"
            assert "400" in statuses, f"{method} {path}: every route answers 400 to ?token="
            if method == "post":
                assert "requestBody" in operation, f"{method} {path}"


def _spec() -> dict[str, Any]:
    """The document of an app that is never started (the document does not depend on the database)."""
    config = ServiceConfig(variants=(Variant("default", "gpt-4.1-mini", "default", 1.0),), db_url="sqlite://")
    return create_app(config, StubExtractor(), store=Store(sa.create_engine("sqlite://"))).openapi()


def _config(**extra: Any) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            **extra,
        }
    )


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC, config=_config())
# The same operations about one extraction, on the stored one: their success answers get checked too.
on_stored = schemathesis.openapi.from_dict(SPEC, config=_config(parameters={"extraction_id": STORED_ID})).include(
    path_regex=r"\{extraction_id\}"
)


def _store_one(store: Store) -> None:
    data = png()
    upload = Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), content_type="image/png")
    pending = Pending(STORED_ID, "seller-1", "default", "gpt-4.1-mini", "default-seed", upload, utcnow())
    store.start(pending)
    store.finish(STORED_ID, Finished("ok", DEFAULT_LISTING, latency_ms=12, input_tokens=10, output_tokens=5))


class RefusingExtractor:
    """A model that refuses every photo."""

    def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Outcome:
        """A refusal."""
        return ExtractionFailure("refusal", "I cannot help with that", model or "stub", "default-stub")


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(store: Store) -> Iterator[AppFactory]:
    """Build services on the test database with one stored extraction; schemathesis's client starts them."""
    _store_one(store)

    def build(extractor: ExtractorLike | None = None, **overrides: Any) -> FastAPI:
        return create_app(make_config(store, **overrides), extractor or StubExtractor(), store=store)

    yield build
    # The lifespans (outbox drain, reaper) would otherwise run on into the next tests.
    asgi.shutdown_lifespans()


@pytest.fixture
def app(make_app: AppFactory) -> FastAPI:
    """A service whose model always answers with the same listing."""
    return make_app()


@schema.parametrize()
# One app serves every example of an operation, as one process serves many requests.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_answer_is_documented(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, checks=CHECKS, allow_redirects=False)


@on_stored.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_answer_about_a_stored_extraction_is_documented(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, checks=CHECKS, allow_redirects=False)


FORM = "application/x-www-form-urlencoded"


def _stored_failure(store: Store) -> str:
    """Store an extraction that ended in an error (nothing to review); its id."""
    data = b"not an image"
    upload = Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), content_type="application/octet-stream")
    pending = Pending("e" * 32, "seller-2", "default", "gpt-4.1-mini", "default-seed", upload, utcnow())
    store.start(pending)
    store.finish(pending.id, Finished("error", error_type="api_error", error_message="boom"))
    return pending.id


def _review(extraction_id: str) -> dict[str, Any]:
    return {"extraction_id": extraction_id, "annotator": "ann", "fields": {"title": {"correct": True}}}


def _review_form() -> dict[str, str]:
    return {"extraction_id": STORED_ID, "annotator": "ann", "title.right": "on", "color.value": "blue"}


# The success answers that random data almost never reaches: a real photo, a valid review, a served item.
SUCCESSES = [
    pytest.param("/v1/extractions", "POST", {"body": {"image": png()}}, 200, id="extraction"),
    pytest.param("/v1/reviews", "POST", {"body": _review(STORED_ID)}, 201, id="review"),
    pytest.param("/review", "POST", {"body": _review_form(), "media_type": FORM}, 303, id="review-form"),
    pytest.param("/review", "GET", {"query": {"annotator": "ann"}}, 200, id="review-page"),
    pytest.param(
        "/login", "POST", {"body": {"token": ADMIN_TOKEN, "next": "/review"}, "media_type": FORM}, 303, id="login"
    ),
    pytest.param(
        "/dashboard/extractions/{extraction_id}/image",
        "GET",
        {"path_parameters": {"extraction_id": STORED_ID}},
        200,
        id="image",
    ),
]


@pytest.mark.parametrize(("path", "method", "parts", "status"), SUCCESSES)
def test_success_answers_are_documented(
    app: FastAPI, path: str, method: str, parts: dict[str, Any], status: int
) -> None:
    case = schema[path][method].Case(**parts)
    response = case.call_and_validate(app=app, headers=AUTH, checks=CHECKS, allow_redirects=False)
    assert response.status_code == status, response.text


# Each documented error status, reached on purpose: (path, method, case parts, extra headers, status).
ERRORS = [
    pytest.param("/metrics", "GET", {}, {"Authorization": "Bearer wrong"}, 401, id="401-wrong-token"),
    pytest.param(
        "/v1/reviews", "POST", {"body": _review(STORED_ID)}, {"Origin": "https://elsewhere.example"}, 403, id="403"
    ),
    pytest.param(
        "/v1/extractions/{extraction_id}/feedback",
        "POST",
        {"path_parameters": {"extraction_id": STORED_ID}, "body": {"rating": "up", "comment": "x" * 300_000}},
        {},
        413,
        id="413",
    ),
    pytest.param("/v1/reviews", "POST", {"body": "{}", "media_type": "text/plain"}, {}, 415, id="415-not-json"),
    pytest.param("/review", "POST", {"body": "x", "media_type": "text/plain"}, {}, 415, id="415-not-a-form"),
]


@pytest.mark.parametrize(("path", "method", "parts", "headers", "status"), ERRORS)
def test_error_answers_are_documented(
    app: FastAPI, path: str, method: str, parts: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    case = schema[path][method].Case(**parts)
    response = case.call_and_validate(app=app, headers={**AUTH, **headers}, checks=CHECKS, allow_redirects=False)
    assert response.status_code == status, response.text


def test_a_refused_photo_answers_502_as_documented(make_app: AppFactory) -> None:
    case = schema["/v1/extractions"]["POST"].Case(body={"image": png()})
    response = case.call_and_validate(app=make_app(RefusingExtractor()), checks=CONFORMANCE)
    assert response.status_code == 502, response.text
    assert set(response.json()["error"]) >= {"type", "message", "id", "variant", "status"}


def test_a_review_of_an_extraction_without_listing_answers_409_as_documented(app: FastAPI, store: Store) -> None:
    case = schema["/v1/reviews"]["POST"].Case(body=_review(_stored_failure(store)))
    response = case.call_and_validate(app=app, headers=AUTH, checks=CHECKS)
    assert response.status_code == 409, response.text


def test_admin_routes_answer_503_as_documented_when_admin_is_off(make_app: AppFactory) -> None:
    app = make_app(admin_token=None)
    for path in ("/metrics", "/login"):
        response = schema[path]["GET"].Case().call_and_validate(app=app, checks=CONFORMANCE)
        assert response.status_code == 503, response.text


def test_the_review_form_says_the_bounds_the_route_enforces(client: TestClient) -> None:
    # An empty annotator or extraction id was documented as valid and answered 400 (schemathesis ST202).
    form = client.get("/openapi.json").json()["paths"]["/review"]["post"]["requestBody"]["content"]
    fields = form["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert (fields["extraction_id"]["minLength"], fields["extraction_id"]["maxLength"]) == (1, 32)
    assert (fields["annotator"]["minLength"], fields["annotator"]["maxLength"]) == (1, 200)
    assert fields["comment"]["maxLength"] == 4000
    for values in ({"extraction_id": "", "annotator": "a"}, {"extraction_id": "x", "annotator": ""}):
        refused = client.post("/review", data=values, headers=AUTH)
        assert refused.status_code == 400, refused.text
