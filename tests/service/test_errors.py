"""Bad inputs are 4xx in the error shape; crashes are a bare 500 whose details go only to the log."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.service.api.bodies import check_text
from extractor.service.api.errors import ApiError
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, upload

pytestmark = pytest.mark.service

SQL_WORDS = ("SELECT", "INSERT", "UPDATE", "WHERE")
DRIVER_WORDS = ("psycopg", "sqlite", "traceback", "parameters")


def _leaks(text: str) -> list[str]:
    """SQL keywords (as SQLAlchemy writes them) and driver names found in a response body."""
    lowered = text.lower()
    return [w for w in SQL_WORDS if w in text] + [w for w in DRIVER_WORDS if w in lowered]


BAD_TEXT = {"nul": "a\x00b", "surrogate": "a\ud800b"}


def _clean_4xx(response: httpx2.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] and body["error"]["message"]
    assert not _leaks(response.text), response.text
    error: dict[str, Any] = body["error"]
    return error


def _raw_json(value: dict[str, Any]) -> bytes:
    """JSON text with every non-ASCII character escaped (a lone surrogate has no UTF-8 form)."""
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.fixture
def extraction(client: TestClient) -> str:
    """One stored, successful extraction."""
    created = upload(client, user="seller")
    assert created.status_code == 200
    identifier: str = created.json()["id"]
    return identifier


@pytest.mark.parametrize("bad", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
@pytest.mark.parametrize("field", ["title", "description", "brand"])
def test_bad_text_in_final_listing_is_400(
    client: TestClient, store: Store, extraction: str, field: str, bad: str
) -> None:
    body = _raw_json({**DEFAULT_LISTING, field: bad})
    response = client.post(
        f"/v1/extractions/{extraction}/final", content=body, headers={"Content-Type": "application/json"}
    )
    message = _clean_4xx(response)["message"]
    assert field in message or "Invalid JSON" in message  # the JSON parser refuses lone surrogates itself
    row = store.get(extraction)
    assert row is not None and row.final_listing is None


@pytest.mark.parametrize("bad", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_bad_text_in_feedback_comment_is_400(client: TestClient, store: Store, extraction: str, bad: str) -> None:
    body = _raw_json({"rating": "up", "comment": bad})
    response = client.post(
        f"/v1/extractions/{extraction}/feedback", content=body, headers={"Content-Type": "application/json"}
    )
    message = _clean_4xx(response)["message"]
    assert "comment" in message or "Invalid JSON" in message
    row = store.get(extraction)
    assert row is not None and row.rating is None


def test_nul_in_user_id_header_is_400(client: TestClient, store: Store) -> None:
    files = {"image": ("a.png", b"", "image/png")}
    response = client.post("/v1/extractions", files=files, headers={"X-User-Id": "a\x00b"})
    assert "x-user-id" in _clean_4xx(response)["message"]
    assert store.count() == 0


NUL_ROUTES = [
    ("POST", "/v1/extractions/a%00b/feedback", {"json": {"rating": "up"}}),
    ("POST", "/v1/extractions/a%00b/final", {"json": DEFAULT_LISTING}),
    ("GET", "/v1/extractions/a%00b", {"headers": AUTH}),
    ("GET", "/v1/extractions/a%00b", {}),
    ("GET", "/metrics?x%00=1", {"headers": AUTH}),
    ("GET", "/healthz?q=a%00b", {}),
    ("GET", "/dashboard?window=24h%00", {"headers": AUTH}),
    ("GET", "/dashboard/logs?status=ok%00", {"headers": AUTH}),
    ("GET", "/dashboard/logs?variant=default%00", {"headers": AUTH}),
    ("GET", "/dashboard/logs?rating=up%00", {"headers": AUTH}),
    ("GET", "/dashboard/logs?page=1%00", {"headers": AUTH}),
    ("GET", "/dashboard/extractions/a%00b", {"headers": AUTH}),
    ("GET", "/dashboard/extractions/a%00b/image", {"headers": AUTH}),
    ("GET", "/login?next=/a%00b", {}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), NUL_ROUTES, ids=[f"{m} {u}" for m, u, _ in NUL_ROUTES])
def test_nul_in_path_or_query_is_400(
    client: TestClient, store: Store, extraction: str, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    _clean_4xx(client.request(method, url, **kwargs))
    row = store.get(extraction)
    assert row is not None and row.rating is None and row.final_listing is None


REVIEW_NUL = [
    (
        "POST",
        "/v1/reviews",
        {"json": {"extraction_id": "a\x00b", "annotator": "x", "fields": {"title": {"correct": True}}}},
    ),
    (
        "POST",
        "/v1/reviews",
        {"json": {"extraction_id": "EXTRACTION", "annotator": "a\x00b", "fields": {"title": {"correct": True}}}},
    ),
    ("GET", "/review?annotator=a%00b", {}),
    ("GET", "/review?annotator=x&skip=a%00b", {}),
]


def _review_request(
    client: TestClient, extraction: str, method: str, url: str, kwargs: dict[str, Any]
) -> httpx2.Response:
    if "json" in kwargs:
        body = {**kwargs["json"]}
        body["extraction_id"] = body["extraction_id"].replace("EXTRACTION", extraction)
        kwargs = {"json": body}
    return client.request(method, url, headers=AUTH, **kwargs)


@pytest.mark.parametrize(("method", "url", "kwargs"), REVIEW_NUL, ids=["id", "annotator", "page", "skip"])
def test_review_routes_never_leak_sql(
    client: TestClient, extraction: str, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = _review_request(client, extraction, method, url, kwargs)
    if response.headers["content-type"].startswith("text/html"):
        assert response.status_code == 200  # the page itself, whose own markup may say SELECT
    else:
        assert not _leaks(response.text), response.text


@pytest.mark.parametrize(("method", "url", "kwargs"), REVIEW_NUL, ids=["id", "annotator", "page", "skip"])
def test_review_routes_refuse_nul_with_400(
    client: TestClient, extraction: str, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    _clean_4xx(_review_request(client, extraction, method, url, kwargs))


@pytest.mark.parametrize("page", ["99999999999999999999", "100001", "0", "-1", "abc", "1.5", "", "1e3"])
def test_absurd_page_is_400(client: TestClient, page: str) -> None:
    _clean_4xx(client.get(f"/dashboard/logs?page={page}", headers=AUTH))


@pytest.mark.parametrize("query", ["status=bogus", "rating=maybe", "variant=" + "v" * 101])
def test_unknown_log_filters_are_400(client: TestClient, query: str) -> None:
    _clean_4xx(client.get(f"/dashboard/logs?{query}", headers=AUTH))


def test_deepest_page_still_answers(client: TestClient) -> None:
    assert client.get("/dashboard/logs?page=100000", headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", "/v1/extractions/nope/feedback", {"json": {"rating": "up"}}),
        ("POST", "/v1/extractions/nope/final", {"json": DEFAULT_LISTING}),
        ("GET", "/v1/extractions/nope", {"headers": AUTH}),
        ("GET", "/dashboard/extractions/nope", {"headers": AUTH}),
        ("GET", "/dashboard/extractions/nope/image", {"headers": AUTH}),
        ("GET", "/no/such/route", {}),
    ],
)
def test_unknown_ids_are_404(client: TestClient, method: str, url: str, kwargs: dict[str, Any]) -> None:
    assert _clean_4xx(client.request(method, url, **kwargs), 404)["type"] == "not_found"


def _generic(response: httpx2.Response, status: int, type_: str, message: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "id"}
    assert (body["error"]["type"], body["error"]["message"]) == (type_, message)
    error_id: str = body["error"]["id"]
    assert str(uuid.UUID(error_id)) == error_id
    return error_id


def _logged(caplog: pytest.LogCaptureFixture, error_id: str) -> logging.LogRecord:
    found = [r for r in caplog.records if r.name == "extractor.service" and getattr(r, "error_id", None) == error_id]
    assert len(found) == 1, [r.getMessage() for r in caplog.records]
    assert error_id in found[0].getMessage()
    return found[0]


def test_crash_is_a_bare_500_with_the_details_in_the_log(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(_id: str) -> None:
        raise RuntimeError("secret: SELECT * FROM extractions WHERE id = 'x'")

    monkeypatch.setattr(store, "get", explode)
    caplog.set_level(logging.INFO, logger="extractor.service")
    response = client.get("/v1/extractions/x", headers=AUTH)
    error_id = _generic(response, 500, "internal", "internal error")
    assert "secret" not in response.text and "RuntimeError" not in response.text
    record = _logged(caplog, error_id)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "RuntimeError" in record.getMessage() and "secret" in record.getMessage()
    assert "GET /v1/extractions/x" in record.getMessage()


def test_database_error_with_sql_is_a_bare_500(
    client: TestClient, store: Store, extraction: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(*_args: Any) -> None:
        raise sa.exc.DataError("UPDATE extractions SET comment=%(comment)s", {"comment": "x"}, ValueError("NUL"))

    monkeypatch.setattr(store, "rate", fail)
    caplog.set_level(logging.INFO, logger="extractor.service")
    response = client.post(f"/v1/extractions/{extraction}/feedback", json={"rating": "up"})
    error_id = _generic(response, 500, "internal", "internal error")
    assert "UPDATE" not in response.text and "comment" not in response.text
    assert "UPDATE extractions" in _logged(caplog, error_id).getMessage()


def _unreachable(*_args: Any) -> None:
    raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection to 10.0.0.5 refused"))


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "method_name"),
    [
        ("GET", "/healthz", {}, "ping"),
        ("GET", "/v1/extractions/x", {"headers": AUTH}, "get"),
        ("POST", "/v1/extractions/x/final", {"json": DEFAULT_LISTING}, "output_of"),
        ("GET", "/dashboard/logs", {"headers": AUTH}, "page"),
    ],
)
def test_database_unavailable_is_503_without_details(
    client: TestClient,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    method_name: str,
) -> None:
    monkeypatch.setattr(store, method_name, _unreachable)
    caplog.set_level(logging.INFO, logger="extractor.service")
    response = client.request(method, url, **kwargs)
    error_id = _generic(response, 503, "database_unavailable", "the database is unavailable")
    assert not re.search(r"10\.0\.0\.5|SELECT|Operational", response.text)
    assert "10.0.0.5" in _logged(caplog, error_id).getMessage()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("fine", None),
        ("caf\u00e9 \U0001f3b8", None),
        ("a\x00b", "NUL"),
        ("a\ud800b", "surrogate"),
        ({"ok": ["x", {"deep": "a\x00"}]}, "body.ok[1].deep holds a NUL"),
        ({"a\udfff": 1}, "surrogate"),
    ],
)
def test_check_text_walks_every_string(value: object, problem: str | None) -> None:
    if problem is None:
        check_text(value, "body")
        return
    with pytest.raises(ApiError) as raised:
        check_text(value, "body")
    assert raised.value.status == 400 and problem in raised.value.message


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("OPTIONS", "/login", "GET, POST"),  # two routes at one path: Starlette named only the first's
        ("PUT", "/review", "GET, POST"),
        ("DELETE", "/v1/extractions", "POST"),
    ],
)
def test_405_names_every_method_of_the_path(client: TestClient, method: str, url: str, allowed: str) -> None:
    response = client.request(method, url, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"]["type"] == "method_not_allowed"
