"""The published OpenAPI document: served, complete, and what the service answers (checked by schemathesis)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
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

from extractor.service.app import create_app
from extractor.service.config import ServiceConfig, Variant
from extractor.service.records import Finished, Pending, Upload, utcnow
from extractor.service.store import Store
from tests.fakes.shapes import DEFAULT_LISTING
from tests.service.conftest import ADMIN_TOKEN, AUTH, StubExtractor, make_config, png

pytestmark = pytest.mark.service

# Called with allow_redirects=False: a documented 303 is the answer under test, not the page it leads to.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
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


@pytest.fixture
def app(store: Store) -> Iterator[FastAPI]:
    """A service on the test database with one stored extraction; schemathesis's client starts its lifespan."""
    _store_one(store)
    yield create_app(make_config(store), StubExtractor(), store=store)
    # The lifespan (outbox drain, reaper) would otherwise run on into the next tests.
    asgi.shutdown_lifespans()


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


def _review_form() -> dict[str, str]:
    return {"extraction_id": STORED_ID, "annotator": "ann", "title.right": "on", "color.value": "blue"}


# The success answers that random data almost never reaches: a real photo, a valid review, a served item.
SUCCESSES = [
    pytest.param("/v1/extractions", "POST", {"body": {"image": png()}}, 200, id="extraction"),
    pytest.param(
        "/v1/reviews",
        "POST",
        {"body": {"extraction_id": STORED_ID, "annotator": "ann", "fields": {"title": {"correct": True}}}},
        201,
        id="review",
    ),
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
