"""Bad uploads: missing field, not an image, too large (refused while reading)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from fastapi.testclient import TestClient

from extractor.service.storage.store import Store
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.service.conftest import ClientFactory, png

pytestmark = pytest.mark.service

MB = 1024 * 1024


def _error(response: httpx2.Response, status: int, type_: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["type"] == type_ and error["message"]
    return error


def test_no_file_field(client: TestClient, store: Store) -> None:
    response = client.post("/v1/extractions", files={"photo": ("a.png", png(), "image/png")})
    assert "image" in _error(response, 400, "bad_request")["message"]
    assert store.count() == 0


def test_form_field_without_a_file(client: TestClient) -> None:
    _error(client.post("/v1/extractions", data={"image": "hello"}), 400, "bad_request")


def test_not_multipart(client: TestClient) -> None:
    response = client.post("/v1/extractions", content=png(), headers={"Content-Type": "image/png"})
    _error(response, 400, "bad_request")


def test_not_an_image(client: TestClient, store: Store, fake_openai: FakeOpenAI) -> None:
    files = {"image": ("notes.txt", b"just some text", "text/plain")}
    error = _error(client.post("/v1/extractions", files=files), 400, "invalid_image")
    assert store.count() == 0 and "id" not in error and fake_openai.requests == []


def test_25_mb_upload_is_413(client: TestClient, store: Store, fake_openai: FakeOpenAI) -> None:
    files = {"image": ("big.png", b"\0" * (25 * MB), "image/png")}
    _error(client.post("/v1/extractions", files=files), 413, "too_large")
    assert store.count() == 0 and fake_openai.requests == []


def test_over_limit_without_content_length_is_refused_while_reading(make_client: ClientFactory, store: Store) -> None:
    client = make_client(max_upload_bytes=1 * MB)
    sent = 0
    boundary = "b0undary"

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        for _ in range(25):  # 25 MB in 1 MB chunks, unless the server stops reading
            sent += MB
            yield b"\0" * MB
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/v1/extractions",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    _error(response, 413, "too_large")
    assert store.count() == 0


def test_image_part_just_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = make_client(max_upload_bytes=100_000)
    files = {"image": ("x.png", b"\0" * 100_001, "image/png")}
    _error(client.post("/v1/extractions", files=files), 413, "too_large")


def test_content_length_over_limit_is_refused_at_once(client: TestClient) -> None:
    response = client.post(
        "/v1/extractions",
        content=b"--x--",
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(30 * MB)},
    )
    _error(response, 413, "too_large")


def test_bad_user_id(client: TestClient) -> None:
    files = {"image": ("a.png", png(), "image/png")}
    response = client.post("/v1/extractions", files=files, headers={"X-User-Id": "x" * 201})
    _error(response, 400, "bad_request")
