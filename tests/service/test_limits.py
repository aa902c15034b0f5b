"""Body limits: refused while reading, nothing stored, a readable 413 for plain clients, /healthz never stalls."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.service.api.bodies import drain_bound
from extractor.service.app import create_app
from extractor.service.config import DEFAULT_MAX_JSON_BYTES as MAX_JSON_BYTES
from extractor.service.storage.store import Store
from extractor.service.storage.tables import corrections, extractions, images
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import ClientFactory, StubExtractor, make_config, png, upload
from tests.service.outages import serving

pytestmark = pytest.mark.service

MB = 1024 * 1024


def _stored(store: Store) -> dict[str, Any]:
    """Everything a refused request could have left behind."""
    with store.engine.connect() as conn:
        return {
            "extractions": conn.execute(sa.select(sa.func.count()).select_from(extractions)).scalar_one(),
            "images": conn.execute(sa.select(sa.func.count()).select_from(images)).scalar_one(),
            "image_bytes": conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(images.c.data)), 0))
            ).scalar_one(),
            "corrections": conn.execute(sa.select(sa.func.count()).select_from(corrections)).scalar_one(),
            "finals": conn.execute(
                sa.select(sa.func.count()).select_from(extractions).where(extractions.c.final_listing.is_not(None))
            ).scalar_one(),
            "rated": conn.execute(
                sa.select(sa.func.count()).select_from(extractions).where(extractions.c.rating.is_not(None))
            ).scalar_one(),
        }


def _error(response: httpx2.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == type_ and error["message"]
    return error


@pytest.fixture
def seeded(client: TestClient, store: Store) -> tuple[TestClient, str, dict[str, Any]]:
    """A service with one stored extraction, and what the database holds before the refused request."""
    created = upload(client, user="seller")
    assert created.status_code == 200
    return client, created.json()["id"], _stored(store)


def _truncated_png() -> bytes:
    return png(size=(400, 300))[:200]


@pytest.mark.parametrize(
    ("data", "status", "type_"),
    [
        pytest.param(b"\x89PNG" + b"\0" * (25 * MB), 413, "too_large", id="25MB"),
        pytest.param(b"%PDF" + b"x" * (19 * MB), 400, "invalid_image", id="19MB-not-an-image"),
        pytest.param(b"", 400, "invalid_image", id="empty"),
        pytest.param(_truncated_png(), 400, "invalid_image", id="truncated-png"),
        pytest.param(png(size=(4, 4)), 400, "invalid_image", id="too-small"),
    ],
)
def test_refused_upload_stores_nothing(
    seeded: tuple[TestClient, str, dict[str, Any]],
    store: Store,
    fake_openai: FakeOpenAI,
    data: bytes,
    status: int,
    type_: str,
) -> None:
    client, _, before = seeded
    calls = len(fake_openai.requests)
    _error(upload(client, data), status, type_)
    assert _stored(store) == before
    assert len(fake_openai.requests) == calls


def _chunks(total: int, sent: list[int], size: int = MB) -> Iterator[bytes]:
    chunk = b" " * size
    for _ in range(total // size):
        sent[0] += size
        yield chunk


async def _asgi_post(app: Any, path: str, content_type: str, total: int) -> tuple[int, dict[str, Any], int]:
    """POST `total` bytes of spaces straight to the ASGI app; the status, the JSON answer and the bytes it read."""
    chunk = b" " * MB
    sent = 0
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent >= total:
            return {"type": "http.disconnect"}
        sent += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < total}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", content_type.encode()), (b"host", b"service")],
        "client": ("127.0.0.1", 1),
        "server": ("service", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in answer if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
    return status, json.loads(body), sent


def test_300_mb_final_is_413_quickly_and_stores_nothing(
    seeded: tuple[TestClient, str, dict[str, Any]], store: Store
) -> None:
    client, extraction, before = seeded
    started = time.monotonic()
    status, answer, read = anyio.run(
        _asgi_post, client.app, f"/v1/extractions/{extraction}/final", "application/json", 300 * MB
    )
    assert time.monotonic() - started < 5
    assert (status, answer["error"]["type"]) == (413, "too_large")
    assert read <= drain_bound(MAX_JSON_BYTES) + MB
    assert _stored(store) == before


def test_300_mb_generator_body_through_the_client_is_413(
    seeded: tuple[TestClient, str, dict[str, Any]], store: Store
) -> None:
    client, extraction, before = seeded
    sent = [0]

    def body() -> Iterator[bytes]:
        yield b'{"title": "x", "description": "'
        yield from _chunks(300 * MB, sent)
        yield b'"}'

    started = time.monotonic()
    response = client.post(
        f"/v1/extractions/{extraction}/final", content=body(), headers={"Content-Type": "application/json"}
    )
    assert time.monotonic() - started < 10
    _error(response, 413, "too_large")
    assert response.headers["connection"] == "close"
    assert _stored(store) == before


def test_declared_300_mb_is_413_without_reading(seeded: tuple[TestClient, str, dict[str, Any]], store: Store) -> None:
    client, extraction, before = seeded
    response = client.post(
        f"/v1/extractions/{extraction}/final",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": str(300 * MB)},
    )
    _error(response, 413, "too_large")
    assert _stored(store) == before


@pytest.mark.parametrize("route", ["final", "feedback"])
def test_json_just_over_the_limit_is_413(
    seeded: tuple[TestClient, str, dict[str, Any]], store: Store, route: str
) -> None:
    client, extraction, before = seeded
    body = json.dumps({**DEFAULT_LISTING, "description": "x" * MAX_JSON_BYTES}).encode()
    response = client.post(
        f"/v1/extractions/{extraction}/{route}", content=body, headers={"Content-Type": "application/json"}
    )
    _error(response, 413, "too_large")
    assert _stored(store) == before


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("final", {**DEFAULT_LISTING, "title": "t" * 81}),
        ("final", {**DEFAULT_LISTING, "description": "d" * 10_001}),
        ("final", {**DEFAULT_LISTING, "brand": "b" * 201}),
        ("feedback", {"rating": "up", "comment": "c" * 4001}),
    ],
    ids=["title", "description", "brand", "comment"],
)
def test_over_long_fields_are_400(
    seeded: tuple[TestClient, str, dict[str, Any]], store: Store, route: str, body: dict[str, Any]
) -> None:
    client, extraction, before = seeded
    error = _error(client.post(f"/v1/extractions/{extraction}/{route}", json=body), 400, "bad_request")
    assert "at most" in error["message"]
    assert _stored(store) == before


def test_longest_fields_are_accepted(seeded: tuple[TestClient, str, dict[str, Any]], store: Store) -> None:
    client, extraction, _ = seeded
    final = {**DEFAULT_LISTING, "title": "t" * 80, "description": "d" * 10_000, "brand": "b" * 200}
    assert client.post(f"/v1/extractions/{extraction}/final", json=final).status_code == 204
    feedback = {"rating": "up", "comment": "\u00e9" * 4000}
    assert client.post(f"/v1/extractions/{extraction}/feedback", json=feedback).status_code == 204
    row = store.get(extraction)
    assert row is not None and row.comment == feedback["comment"] and row.final_listing == final


def test_oversized_non_multipart_body_is_413_after_a_bounded_read(make_client: ClientFactory, store: Store) -> None:
    client = make_client(max_upload_bytes=MB)
    status, answer, read = anyio.run(_asgi_post, client.app, "/v1/extractions", "image/png", 100 * MB)
    assert (status, answer["error"]["type"]) == (413, "too_large")
    assert read <= drain_bound(MB + 64 * 1024) + MB and store.count() == 0


def test_oversized_multipart_upload_is_413_after_a_bounded_read(make_client: ClientFactory, store: Store) -> None:
    client = make_client(max_upload_bytes=MB)
    status, answer, read = anyio.run(
        _asgi_post, client.app, "/v1/extractions", "multipart/form-data; boundary=x", 100 * MB
    )
    assert (status, answer["error"]["type"]) == (413, "too_large")
    assert read <= drain_bound(MB + 64 * 1024) + MB and store.count() == 0


# A real server: the TestClient hands the app the whole body at once and never shows a reset.


@contextmanager
def _serving(store: Store, **overrides: Any) -> Iterator[str]:
    app = create_app(make_config(store, **overrides), StubExtractor(), store=store)
    with serving(app) as base_url:
        yield base_url


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "listingevalboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _urllib_post(
    url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_urllib_reads_the_413_for_a_25_mb_upload(store: Store) -> None:
    with _serving(store) as base:
        body, content_type = _multipart(b"\x89PNG" + b"\0" * (25 * MB))
        status, answer = _urllib_post(f"{base}/v1/extractions", body, content_type)
        assert (status, answer["error"]["type"]) == (413, "too_large")
        body, content_type = _multipart(png())
        status, answer = _urllib_post(f"{base}/v1/extractions", body, content_type)
        assert status == 200 and answer["listing"] == DEFAULT_LISTING
    assert store.count() == 1


def test_urllib_reads_the_413_for_a_4_mb_final(store: Store) -> None:
    with _serving(store) as base:
        body = json.dumps({**DEFAULT_LISTING, "description": "x" * (4 * MB)}).encode()
        status, answer = _urllib_post(f"{base}/v1/extractions/nope/final", body, "application/json")
        assert (status, answer["error"]["type"]) == (413, "too_large")


def test_urllib_reads_early_400s_sent_before_the_body_is_read(store: Store) -> None:
    with _serving(store) as base:
        body, content_type = _multipart(png() + b"\0" * (8 * MB))
        status, answer = _urllib_post(f"{base}/v1/extractions", body, content_type, {"X-User-Id": "u" * 201})
        assert (status, answer["error"]["type"]) == (400, "bad_request")
        body = json.dumps({**DEFAULT_LISTING, "description": "x" * (4 * MB)}).encode()
        status, answer = _urllib_post(f"{base}/v1/extractions/a%00b/final", body, "application/json")
        assert (status, answer["error"]["type"]) == (400, "bad_request")
    assert store.count() == 0


def test_healthz_answers_while_large_json_bodies_are_parsed(store: Store) -> None:
    # Many small tokens make the parse as slow as a body under the limit can be.
    heavy = json.dumps({**DEFAULT_LISTING, "x": [0] * ((MAX_JSON_BYTES - 2048) // 3)}).encode()
    assert len(heavy) < MAX_JSON_BYTES
    over = json.dumps({**DEFAULT_LISTING, "x": [0] * (4 * MB)}).encode()
    with _serving(store) as base, httpx.Client(base_url=base, timeout=30) as probe:

        def health() -> float:
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            return time.perf_counter() - started

        quiet = max(health() for _ in range(5))
        stop = threading.Event()

        def hammer(body: bytes) -> list[int]:
            codes = []
            with httpx.Client(base_url=base, timeout=30) as sender:
                while not stop.is_set():
                    try:
                        response = sender.post(
                            "/v1/extractions/nope/final", content=body, headers={"Content-Type": "application/json"}
                        )
                        codes.append(response.status_code)
                    except httpx.TransportError:
                        codes.append(0)  # the server closed an oversized body it stopped reading
            return codes

        with ThreadPoolExecutor(6) as pool:
            senders = [pool.submit(hammer, heavy) for _ in range(4)] + [pool.submit(hammer, over) for _ in range(2)]
            time.sleep(0.3)
            busy = [health() for _ in range(20)]
            stop.set()
            heavy_codes = [c for f in senders[:4] for c in f.result()]
            over_codes = [c for f in senders[4:] for c in f.result()]
    assert heavy_codes and set(heavy_codes) == {400}  # parsed in full, then refused for the extra key
    assert over_codes and set(over_codes) <= {413, 0}
    assert max(busy) < 0.5, f"/healthz took {max(busy):.3f} s under load ({quiet:.3f} s when quiet)"


# -- slow bodies -----------------------------------------------------------------------------


def _slow_post(base_url: str, head: bytes, pieces: list[bytes], pause_s: float) -> tuple[int, bytes, float]:
    """Send a request's headers, then its body a piece at a time with pauses; its status, body and duration."""
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # answered and closed while we were still sending
                break
            time.sleep(pause_s)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2], time.monotonic() - started


def _final_request(extraction: str, length: int) -> bytes:
    return (
        f"POST /v1/extractions/{extraction}/final HTTP/1.1\r\nHost: service\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(("pause_s", "message"), [(1.5, "stalled for 0.5 s"), (0.2, "took over 1 s")])
def test_a_trickled_body_is_408_and_closed_instead_of_holding_the_connection(
    store: Store, pause_s: float, message: str
) -> None:
    config = make_config(store, body_idle_timeout_s=0.5, body_timeout_s=1.0)
    app = create_app(config, StubExtractor(), store=store)
    with serving(app) as base_url:
        extraction = httpx.post(f"{base_url}/v1/extractions", files={"image": ("a.png", png(), "image/png")}).json()
        before = _stored(store)
        body = json.dumps(DEFAULT_LISTING).encode()
        pieces = [body[i : i + 8] for i in range(0, len(body), 8)]
        status, answer, took = _slow_post(base_url, _final_request(extraction["id"], len(body)), pieces, pause_s)
    assert status == 408 and json.loads(answer)["error"]["type"] == "request_timeout"
    assert message in json.loads(answer)["error"]["message"]
    assert took < 5 and _stored(store) == before


def test_a_stalled_upload_is_408_and_stores_nothing(store: Store) -> None:
    config = make_config(store, body_idle_timeout_s=0.5, body_timeout_s=10.0)
    app = create_app(config, StubExtractor(), store=store)
    boundary = "b0undary"
    part = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + png()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        "POST /v1/extractions HTTP/1.1\r\nHost: service\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(part)}\r\n\r\n"
    ).encode()
    with serving(app) as base_url:
        status, answer, took = _slow_post(base_url, head, [part[:100], part[100:]], pause_s=2.0)
    assert status == 408 and json.loads(answer)["error"]["type"] == "request_timeout"
    assert took < 5 and store.count() == 0
