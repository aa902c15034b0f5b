"""The published OpenAPI document: served, complete, and what the service answers (checked by schemathesis)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from extractor.outcome import ExtractionFailure, Outcome
from extractor.service.api import openapi
from extractor.service.app import create_app
from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.corrections import FIELDS
from extractor.service.extraction.runner import ExtractorLike
from extractor.service.storage.records import Finished, Pending, Upload, utcnow
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import ADMIN_TOKEN, AUTH, StubExtractor, api_routes, make_config, png, service_app

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
# Every check: enough examples that a form without a verdict or a string with NUL turns up (about 20 s a database).
ALL_CHECKS_MAX_EXAMPLES = 100
SEED = 20261201
# An extraction stored before each run, so that the routes about one extraction answer more than 404.
STORED_ID = "5eed" * 8


def _routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """Every API route's path and methods, included routers' routes too."""
    return [(r.path, set(r.methods or ())) for r in api_routes(app) if r.path != app.openapi_url]


def test_the_document_is_served_and_lists_every_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    spec = response.json()
    app = service_app(client)
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
                # Every body is read by api/bodies.py: over the limit is a 413, a stalled one a 408.
                assert {"408", "413"} <= statuses, f"{method} {path}"


def _spec() -> dict[str, Any]:
    """The document of an app that is never started (the document does not depend on the database)."""
    config = ServiceConfig(variants=(Variant("default", "gpt-4.1-mini", "default", 1.0),), db_url="sqlite://")
    return create_app(config, StubExtractor(), store=Store(sa.create_engine("sqlite://"))).openapi()


def _config(max_examples: int = MAX_EXAMPLES, **extra: Any) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
            **extra,
        }
    )


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC, config=_config())
# The same operations about one extraction, on the stored one: their success answers get checked too.
on_stored = schemathesis.openapi.from_dict(SPEC, config=_config(parameters={"extraction_id": STORED_ID})).include(
    path_regex=r"\{extraction_id\}"
)

# Every check schemathesis has (the CLI's `-c all`): beyond "is every answer documented", also "is every
# documented request accepted" (positive_data_acceptance) and "is every undocumented one refused"
# (negative_data_rejection), unsupported methods, missing headers, ignored auth, deleted resources...
ALL_CHECKS = [check for check in schemathesis.checks.CHECKS.get_all() if not isinstance(check, type)]
ALL_CHECKS_CONFIG: dict[str, Any] = {
    "max_examples": ALL_CHECKS_MAX_EXAMPLES,
    "checks": {"enabled": True},
    "operations": [
        {
            # The one refusal the document cannot state as a schema: "a photo that decodes, at least 8 px a
            # side". Its 400 `invalid_image` is documented; schemathesis's samples are 1x1 or random bytes.
            # One filter: an operation that matches any of several `include-*` filters is included.
            "include-name": "POST /v1/extractions",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [*PositiveDataAcceptanceConfig().expected_statuses, "400"]
                }
            },
        }
    ],
}
every_check = schemathesis.openapi.from_dict(SPEC, config=_config(**ALL_CHECKS_CONFIG))
# Excluding the others: `include` would be ORed with the filter the `operations` section adds, and select every one.
every_check_on_stored = schemathesis.openapi.from_dict(
    SPEC, config=_config(parameters={"extraction_id": STORED_ID}, **ALL_CHECKS_CONFIG)
).exclude(path_regex=r"^[^{]*$")


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# schemathesis's Case is generic over the kind of operation it was made for; these tests take any.
AnyCase = schemathesis.Case[APIOperation[Any, Any, Any, Any]]


@every_check.hook("filter_failure")
def _valid_once_sent_as_a_form(context: Any, failure: Failure, case: AnyCase, response: Any) -> bool:
    """Keep every failure but "a form with fields of the wrong type was accepted": a form carries text only.

    schemathesis breaks a form field's type (an object, a number) and sends it as text, which is valid;
    it also negates `additionalProperties` with `propertyNames` when only a type was broken. Such a form
    is invalid only if a NUL reaches the server; in a multipart part's name it does not in process, where
    httpx sends it as `%00` (requests, the CLI's client, sends it and the form is refused).
    """
    if not isinstance(failure, AcceptedNegativeData) or case.media_type not in FORMS or not isinstance(case.body, dict):
        return True
    data = case.meta.phase.data if case.meta is not None else None
    mutations = list(getattr(data, "mutations", ()))
    of_fields = {"additionalProperties", "propertyNames"}
    if not mutations or not all(
        set(m.keywords) <= of_fields or (m.keywords == ("type",) and m.schema_pointer) for m in mutations
    ):
        return True
    names = [] if case.media_type == "multipart/form-data" else list(case.body)
    # What arrives as sent: names, text values, the items of a repeated field, the keys of a mapping's.
    texts = [v for value in case.body.values() for v in (value if isinstance(value, list | dict) else [value])]
    return any("\x00" in text for text in [*names, *texts] if isinstance(text, str))


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
def test_every_answer_is_documented(case: AnyCase, app: FastAPI) -> None:
    case.call_and_validate(app=app, checks=CHECKS, allow_redirects=False)


@on_stored.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_answer_about_a_stored_extraction_is_documented(case: AnyCase, app: FastAPI) -> None:
    case.call_and_validate(app=app, checks=CHECKS, allow_redirects=False)


def test_only_the_upload_may_refuse_a_documented_request() -> None:
    for result in every_check.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        expected = every_check.config.checks_config_for(operation=operation, phase="fuzzing")
        refuses = "400" in expected.positive_data_acceptance.expected_statuses
        assert refuses == (operation.label == "POST /v1/extractions"), operation.label


def test_all_checks_are_every_check_schemathesis_has() -> None:
    names = {check.__name__ for check in ALL_CHECKS}
    assert names >= {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "positive_data_acceptance",
        "negative_data_rejection",
        "unsupported_method",
        "allow_header_conformance",
        "missing_required_header",
        "ignored_auth",
        "use_after_free",
        "ensure_resource_availability",
        "object_level_authorization",
    }


def _call_with_every_check(case: AnyCase, app: FastAPI) -> None:
    # ignored_auth sends its probes (without the credentials) through the schema's app, not the call's.
    case.operation.schema.app = app
    case.call_and_validate(app=app, checks=ALL_CHECKS, allow_redirects=False)


@every_check.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_passes_every_check(case: AnyCase, app: FastAPI) -> None:
    _call_with_every_check(case, app)


@every_check_on_stored.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_about_a_stored_extraction_passes_every_check(case: AnyCase, app: FastAPI) -> None:
    _call_with_every_check(case, app)


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
    # schemathesis types a body as JSON or raw bytes; a multipart body carrying a file (bytes) is neither.
    case = schema["/v1/extractions"]["POST"].Case(body={"image": png()})  # type: ignore[dict-item]
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


def _request_strings(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every string schema of what requests carry (parameters, bodies, referred components), with where it is."""
    schemas = spec["components"]["schemas"]

    def walk(where: str, schema: Any, seen: frozenset[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref", "")
        name = ref.rpartition("/")[2]
        if name and name not in seen:
            yield from walk(f"{where}->{name}", schemas[name], seen | {name})
        if schema.get("type") == "string" or "string" in (schema.get("type") or []):
            yield where, schema
        for key in ("properties",):
            for prop, sub in (schema.get(key) or {}).items():
                yield from walk(f"{where}.{prop}", sub, seen)
        for key in ("items", "additionalProperties", "propertyNames"):
            yield from walk(f"{where}[{key}]", schema.get(key), seen)
        for key in ("anyOf", "oneOf", "allOf"):
            for index, sub in enumerate(schema.get(key) or []):
                yield from walk(f"{where}/{key}{index}", sub, seen)

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                yield from walk(f"{method} {path} {parameter['name']}", parameter["schema"], frozenset())
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                yield from walk(f"{method} {path} {media}", content["schema"], frozenset())


def test_every_text_a_request_carries_is_documented_without_nul() -> None:
    # Schema-valid strings with NUL were answered 400 (schemathesis ST202): the service refuses NUL in every text.
    strings = list(_request_strings(SPEC))
    assert len(strings) > 20
    for where, string in strings:
        if "enum" in string or "const" in string or string.get("format") == "binary":
            continue
        patterns = [string.get("pattern"), *(sub.get("pattern") for sub in string.get("allOf", []))]
        assert openapi.NO_NUL in patterns, where
    assert re.fullmatch(openapi.NO_NUL, "any text, even\nlines") and not re.search(openapi.NO_NUL, "a\x00b")
    # A value of any type (a review's right value) is any JSON without NUL, at any depth.
    value = SPEC["components"]["schemas"]["FieldInput"]["properties"]["value"]
    assert value["$ref"].endswith(f"/{openapi.JSON_VALUE}")
    # Responses say nothing of it.
    assert "pattern" not in SPEC["components"]["schemas"]["ErrorDetail"]["properties"]["message"]


def test_a_pattern_of_its_own_is_kept_beside_no_nul() -> None:
    spec: dict[str, Any] = {
        "paths": {
            "/x": {
                "get": {
                    "parameters": [
                        {"name": "a", "in": "query", "schema": {"type": "string", "pattern": "^[a-f0-9]+$"}},
                        {"name": "b", "in": "query", "schema": {"type": "string", "pattern": openapi.NO_NUL}},
                        {"name": "c", "in": "query", "schema": {"enum": ["x", "y"]}},
                    ]
                }
            }
        }
    }
    openapi._refuse_nul(spec)
    openapi._refuse_nul(spec)  # twice: nothing is added again
    a, b, c = (p["schema"] for p in spec["paths"]["/x"]["get"]["parameters"])
    assert a == {"type": "string", "pattern": "^[a-f0-9]+$", "allOf": [{"pattern": openapi.NO_NUL}]}
    assert b == {"type": "string", "pattern": openapi.NO_NUL}
    assert c == {"enum": ["x", "y"]}


def test_the_document_still_validates_as_fastapi_does(client: TestClient) -> None:
    # The patterns are in the document only: FastAPI's own validation of the same parameters is unchanged.
    assert client.get("/dashboard/logs", params={"variant": "v" * 101}, headers=AUTH).status_code == 400
    assert client.get("/dashboard/logs", params={"variant": "default"}, headers=AUTH).status_code == 200
    assert client.get("/login", params={"next": "/review"}).status_code == 200
    assert client.get("/login", params={"next": "/a\x00b"}).status_code == 400


def test_the_review_form_says_it_needs_a_verdict(client: TestClient) -> None:
    # A form without any `<field>.right` or `<field>.value` was documented as valid and answered 400 (ST202).
    form = client.get("/openapi.json").json()["paths"]["/review"]["post"]["requestBody"]["content"]
    schema = form["application/x-www-form-urlencoded"]["schema"]
    alternatives = {name for choice in schema["anyOf"] for name in choice["required"]}
    assert alternatives == {f"{field}.{kind}" for field in FIELDS for kind in ("right", "value")}
    assert schema["properties"]["category.value"]["enum"]
    assert (schema["properties"]["title.value"]["minLength"], schema["properties"]["title.value"]["maxLength"]) == (
        1,
        80,
    )
    refused = client.post("/review", data={"extraction_id": STORED_ID, "annotator": "ann"}, headers=AUTH)
    assert refused.status_code == 400, refused.text


def test_logout_refuses_a_malformed_form_without_a_session(client: TestClient) -> None:
    # Without a session the form went unread, so a malformed one was answered 303 (ST201); it is a 400 as documented.
    boundary = "a222103b9b30b1f9e8be6882ecedb1d2"
    response = client.post(
        "/logout",
        content=f"--{boundary}\r\n[]--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        follow_redirects=False,
    )
    assert response.status_code == 400, response.text
    assert client.post("/logout", data={"a": "x\x00y"}, follow_redirects=False).status_code == 400
    assert client.post("/logout", data={"next": "/"}, follow_redirects=False).status_code == 303
