"""Body reading: read_form, Content-Length parsing, and no route of the service reading a body unbounded."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

import extractor.service
from extractor.service.api import errors
from extractor.service.api.bodies import declared_length, read_form
from extractor.service.app import create_app
from extractor.service.config import ServiceConfig, Variant
from extractor.service.storage.store import Store
from tests.service.conftest import StubExtractor, api_routes, make_config

pytestmark = pytest.mark.service

SERVICE = Path(extractor.service.__file__).parent
# The one module that may touch a request's body stream; everything else reads through it.
BODY_READER = SERVICE / "api" / "bodies.py"
UNBOUNDED_READS = {"body", "json", "form", "stream"}


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    variants = (Variant("default", "m", "default", 1.0),)
    app.state.config = ServiceConfig(variants=variants, max_json_bytes=1_000, max_upload_bytes=1_000)

    @app.post("/form")
    async def form(request: Request) -> dict[str, str]:
        return await read_form(request)

    return app


@pytest.fixture
def client() -> TestClient:
    """A small app with the error handlers and a route reading its form through `read_form`."""
    return TestClient(_app(), raise_server_exceptions=False)


def test_no_route_of_the_service_has_a_body_that_fastapi_reads_unbounded(store: Store) -> None:
    app = create_app(make_config(store), extractor=StubExtractor(), store=store)
    routes = api_routes(app)
    assert len(routes) > 10
    parsed_by_fastapi = [
        f"{sorted(route.methods or ())} {route.path}" for route in routes if route.body_field is not None
    ]
    assert parsed_by_fastapi == [], "read these bodies with extractor.service.api.bodies instead (bounded)"


def test_only_the_body_reader_calls_the_request_body_methods() -> None:
    offenders = []
    for path in sorted(SERVICE.rglob("*.py")):
        if path == BODY_READER:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in UNBOUNDED_READS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "request"
            ):
                offenders.append(f"{path.relative_to(SERVICE)}:{node.lineno} request.{node.func.attr}()")
    assert offenders == []


def _refused(response: Any, status: int = 413, type_: str = "too_large") -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type_


def test_read_form_reads_urlencoded_and_multipart(client: TestClient) -> None:
    assert client.post("/form", data={"a": "1", "b": "two"}).json() == {"a": "1", "b": "two"}
    files = {"a": (None, "1"), "b": (None, "two")}
    assert client.post("/form", files=files).json() == {"a": "1", "b": "two"}


def test_read_form_refuses_over_its_limit_nul_and_other_bodies(client: TestClient) -> None:
    _refused(client.post("/form", data={"a": "x" * 2_000}))
    _refused(client.post("/form", data={"a": "x\x00y"}), 400, "bad_request")
    _refused(client.post("/form", content=b"{}", headers={"Content-Type": "application/json"}), 400, "bad_request")


MULTIPART = {"Content-Type": "multipart/form-data; boundary=XyZ"}
PART = b'--XyZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nabc\r\n'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(PART, id="cut before the closing boundary"),
        pytest.param(PART + b"--XyZ\r\n", id="a delimiter but no close"),
        pytest.param(PART.replace(b"XyZ", b"other") + b"--other--\r\n", id="another boundary"),
    ],
)
def test_read_form_refuses_a_multipart_body_that_would_lose_fields_silently(client: TestClient, body: bytes) -> None:
    _refused(client.post("/form", content=body, headers=MULTIPART), 400, "bad_request")


def test_read_form_takes_a_closed_multipart_body_and_an_empty_one(client: TestClient) -> None:
    assert client.post("/form", content=PART + b"--XyZ--\r\n", headers=MULTIPART).json() == {"csrf_token": "abc"}
    assert client.post("/form", content=PART + b"--XyZ--", headers=MULTIPART).json() == {"csrf_token": "abc"}
    assert client.post("/form", content=b"", headers=MULTIPART).json() == {}


@pytest.mark.parametrize(("value", "expected"), [("12", 12), ("0", 0), ("\u00b2", None), ("-1", None), ("1e3", None)])
def test_declared_length_takes_only_ascii_digits(value: str, expected: int | None) -> None:
    scope = {"type": "http", "headers": [(b"content-length", value.encode("latin-1"))]}
    assert declared_length(Request(scope)) == expected
