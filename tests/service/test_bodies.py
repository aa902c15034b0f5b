"""The body helpers other routes can use: read_form and the BodyLimit backstop middleware."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from extractor.service import errors
from extractor.service.bodies import BodyLimit, declared_length, read_form

pytestmark = pytest.mark.service

LIMIT = 10_000


class Thing(BaseModel):
    """A body parameter read by FastAPI itself."""

    name: str


def _app(limit: int = LIMIT) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(BodyLimit, limit=limit)

    class Config:
        max_json_bytes = 1_000
        max_upload_bytes = 1_000

    app.state.config = Config()

    @app.post("/form")
    async def form(request: Request) -> dict[str, str]:
        return await read_form(request)

    @app.post("/starlette-form")
    async def starlette_form(request: Request) -> dict[str, Any]:
        return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/model")
    async def model(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    return app


@pytest.fixture
def client() -> TestClient:
    """A small app with the error handlers, the middleware and one route per way of reading a body."""
    return TestClient(_app(), raise_server_exceptions=False)


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


@pytest.mark.parametrize("path", ["/starlette-form", "/raw", "/model"])
def test_body_limit_refuses_streamed_bodies_however_the_route_reads_them(client: TestClient, path: str) -> None:
    def body() -> Any:
        for _ in range(20):
            yield b"x" * 1_000

    headers = {"Content-Type": "application/x-www-form-urlencoded" if "form" in path else "application/json"}
    response = client.post(path, content=body(), headers=headers)
    _refused(response)
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize("path", ["/starlette-form", "/raw", "/model"])
def test_body_limit_refuses_a_declared_length_at_once(client: TestClient, path: str) -> None:
    _refused(client.post(path, content=b"{}", headers={"Content-Length": str(LIMIT + 1)}))


def test_body_limit_lets_bodies_under_it_through(client: TestClient) -> None:
    assert client.post("/raw", content=b"x" * LIMIT).json() == {"bytes": LIMIT}
    assert client.post("/model", json={"name": "n"}).json() == {"name": "n"}


@pytest.mark.parametrize(("value", "expected"), [("12", 12), ("0", 0), ("\u00b2", None), ("-1", None), ("1e3", None)])
def test_declared_length_takes_only_ascii_digits(value: str, expected: int | None) -> None:
    scope = {"type": "http", "headers": [(b"content-length", value.encode("latin-1"))]}
    assert declared_length(Request(scope)) == expected
