"""Access lines (one per request, with its id), the formatters and what they redact."""

from __future__ import annotations

import json
import logging
import re
import sys
from urllib.parse import quote

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from extractor.service.api.logs import (
    ACCESS_LOGGER,
    JsonFormatter,
    TextFormatter,
    annotate,
    current_request_id,
    redact,
    request_id_of,
)
from extractor.service.storage.store import Store
from tests.service.conftest import ADMIN_TOKEN, AUTH, ClientFactory, StubExtractor, service_app
from tests.service.test_review_helpers import seed

pytestmark = pytest.mark.service


def _access(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


def test_one_access_line_per_request_with_its_id(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    given = client.get("/healthz", headers={"X-Request-Id": "req-42.a:b_c"})
    assert given.headers["x-request-id"] == "req-42.a:b_c"
    made = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    lines = _access(caplog)
    assert [vars(r)["request_id"] for r in lines] == ["req-42.a:b_c", made.headers["x-request-id"]]
    entry = json.loads(JsonFormatter().format(lines[0]))
    assert entry["logger"] == ACCESS_LOGGER and entry["level"] == "info"
    assert entry["method"] == "GET" and entry["route"] == "/healthz" and entry["status"] == 200
    assert isinstance(entry["latency_ms"], float) and entry["latency_ms"] >= 0
    assert entry["message"] == "GET /healthz 200"


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, "-leading-dash", "a\tb", "token=abc", "é"])
def test_an_odd_incoming_request_id_is_replaced(client: TestClient, given: str) -> None:
    response = client.get("/healthz", headers={b"X-Request-Id": given.encode()})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_route_template_extraction_id_and_variant(
    make_client: ClientFactory, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service = make_client(extractor=StubExtractor())
    extraction_id = seed(store, variant="concise")
    service.post(f"/v1/extractions/{extraction_id}/feedback", json={"rating": "down"})
    body = {"extraction_id": extraction_id, "annotator": "a", "fields": {"color": {"correct": True}}}
    assert service.post("/v1/reviews", json=body, headers=AUTH).status_code == 201
    service.get("/nowhere/at/all")
    feedback, review, missing = (json.loads(JsonFormatter().format(r)) for r in _access(caplog))
    assert feedback["route"] == "/v1/extractions/{extraction_id}/feedback" and feedback["status"] == 204
    assert (
        feedback["extraction_id"] == extraction_id and feedback["path"] == f"/v1/extractions/{extraction_id}/feedback"
    )
    assert review["route"] == "/v1/reviews" and review["status"] == 201
    assert review["extraction_id"] == extraction_id and review["variant"] == "concise"
    assert missing["route"] is None and missing["path"] == "/nowhere/at/all" and missing["status"] == 404


def test_refused_requests_are_logged_too(make_client: ClientFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    service = make_client(extractor=StubExtractor())
    forged = service.post("/review", data={"a": "b"}, headers={"Sec-Fetch-Site": "same-site"})
    assert forged.status_code == 403 and forged.headers["x-request-id"]
    line = json.loads(JsonFormatter().format(_access(caplog)[-1]))
    assert line["status"] == 403 and line["request_id"] == forged.headers["x-request-id"]
    warning = next(r for r in caplog.records if r.name == "extractor.service" and r.levelno == logging.WARNING)
    assert vars(warning)["reason"] == "cross_site"


def test_lines_logged_during_a_request_carry_its_id(client: TestClient) -> None:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    keep = Keep()
    keep.setFormatter(JsonFormatter())
    logging.getLogger("extractor.service").addHandler(keep)
    try:
        refused = client.get("/healthz?token=x", headers={"X-Request-Id": "rid-7"})
    finally:
        logging.getLogger("extractor.service").removeHandler(keep)
    assert refused.status_code == 400
    warning = json.loads(seen[0])
    assert warning["level"] == "warning" and warning["request_id"] == "rid-7" and warning["reason"] == "token_in_url"


def test_a_crash_is_logged_once_with_status_500(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    seen: list[str | None] = []

    async def boom(request: Request) -> None:
        seen.append(request_id_of(request))
        raise RuntimeError(f"crashed holding {ADMIN_TOKEN}")

    service_app(client).add_api_route("/boom", boom)
    response = client.get("/boom", headers={"X-Request-Id": "crash-1"})
    assert response.status_code == 500 and seen == ["crash-1"]
    (line,) = [json.loads(JsonFormatter().format(r)) for r in _access(caplog)]
    assert line["status"] == 500 and line["exception"] == "RuntimeError" and line["request_id"] == "crash-1"
    assert line["level"] == "error" and line["route"] == "/boom"


def test_annotate_outside_a_request_is_harmless() -> None:
    annotate(variant="x")
    assert current_request_id() is None


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("extractor.service", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


LEAKY = [
    "Authorization: Bearer abc.def-ghi",
    "headers {'authorization': 'Bearer abc.def-ghi'}",
    "Cookie: listingeval_session=v1.abc.1.2.sig; other=1",
    "GET /dashboard?status=ok&token=abc.def-ghi&page=2",
    "csrf_token=abc.def-ghi",
    "X-CSRF-Token: abc.def-ghi",
    "basic abc.def-ghi",
    'HTTP Request: POST http://user:abc.def-ghi@127.0.0.1:8765/v1/responses "HTTP/1.1 200 OK"',
]


@pytest.mark.parametrize("text", LEAKY)
def test_credentials_are_redacted(text: str) -> None:
    assert "abc.def-ghi" not in redact(text) and "v1.abc" not in redact(text)
    assert "[redacted]" in redact(text)
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(_record(text, detail=text))
        assert "abc.def-ghi" not in line and "\n" not in line
    entry = json.loads(JsonFormatter().format(_record(text, detail=text)))  # redaction keeps the line valid JSON
    assert "[redacted]" in entry["message"] and "[redacted]" in entry["detail"]


def test_the_formatters_redact_the_admin_token_anywhere() -> None:
    formatters = [JsonFormatter([ADMIN_TOKEN]), TextFormatter([ADMIN_TOKEN])]
    try:
        raise RuntimeError(f"boom with {ADMIN_TOKEN}")
    except RuntimeError:
        crashed = _record("crash %s", ADMIN_TOKEN)
        crashed.exc_info = sys.exc_info()
    records = [
        _record("the token is %s", ADMIN_TOKEN),
        _record("plain", detail=f"x{ADMIN_TOKEN}y", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        crashed,
    ]
    for formatter in formatters:
        for record in records:
            line = formatter.format(record)
            assert ADMIN_TOKEN not in line and "[redacted]" in line, line
    entry = json.loads(formatters[0].format(records[1]))
    assert entry["detail"] == "x[redacted]y" and entry["message"] == "plain"
    assert "boom with [redacted]" in json.loads(formatters[0].format(crashed))["exc"]
    assert "\n" not in formatters[0].format(crashed)  # one line, even with a traceback


def test_text_format_is_readable() -> None:
    line = TextFormatter().format(_record("GET %s %d", "/healthz", 200, request_id="r1", status=200))
    assert re.fullmatch(r"\S+ INFO +extractor\.service GET /healthz 200 request_id=\"r1\" status=200", line)


FORGING_PATH = "/x\n2026-12-01T00:00:00.000+00:00 INFO    extractor.service.access GET /forged 200\r\x1b[2J\x9b31m"


def test_a_request_cannot_forge_log_lines_or_send_escapes(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    # A path with %0A wrote a second, made-up access line in the text format, and %1B reached the terminal.
    caplog.set_level(logging.INFO)
    assert client.get(quote(FORGING_PATH)).status_code == 404
    (line,) = [r for r in _access(caplog) if vars(r)["path"] == FORGING_PATH]
    text = TextFormatter().format(line)
    entry = JsonFormatter().format(line)
    for written in (text, entry):
        assert "\n" not in written and "\r" not in written
        assert not any(c in written for c in "\x1b\x9b"), written
    assert "/x\\n2026-12-01" in text and json.loads(entry)["path"] == FORGING_PATH  # escaped, not lost
