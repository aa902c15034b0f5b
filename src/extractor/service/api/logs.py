"""Structured logging: one line per request (JSON or text), a request id, and secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = "extractor.service"
logger = logging.getLogger(LOGGER)
ACCESS_LOGGER = f"{LOGGER}.access"
access_logger = logging.getLogger(ACCESS_LOGGER)
REQUEST_ID_HEADER = "X-Request-Id"
REDACTED = "[redacted]"
LogFormat = Literal["json", "text"]
FORMATS: tuple[LogFormat, ...] = ("json", "text")

_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+"), rf"\1\2{REDACTED}"),
    (
        re.compile(
            r"(?i)\b(authorization|cookie|set-cookie|x-csrf-token)([\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\r\n]*)"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b((?:access_|csrf_|admin_)?token|listingeval_session)=[^&\s\"';]*"), rf"\1={REDACTED}"),
    # Userinfo in an address (`OPENAI_BASE_URL=http://user:password@gateway/v1`).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"'<>]+@"), rf"\1{REDACTED}@"),
)
# HTTP clients that log every call at INFO with its full address (the OpenAI SDK's is httpx2): the
# access line per request already says what happened, and the address may hold credentials.
QUIET_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2")
# Controls in logged text (a path may carry %0A or %1B): a raw newline would let a request forge a
# whole log line in the text format, and escape sequences would reach the terminal of whoever reads it.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_C1 = re.compile(r"[\x7f-\x9f]")  # what json.dumps(ensure_ascii=False) leaves raw
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` on one line, with every control character written as an escape."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def _json_text(value: Any) -> str:
    """JSON without raw control characters (C0 are escaped by json.dumps, C1 here)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# Attributes every LogRecord has; anything else on a record came in through `extra=` and is a field.
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret values and any credential-looking header or parameter blanked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def clean(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        return redact(str(value), self.secrets)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        found = {k: self.clean(v) for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}
        # Any line logged while a request is served carries its id, so it can be matched to the access line.
        current = current_request_id()
        if current is not None and "request_id" not in found:
            found = {"request_id": current, **found}
        return found

    def when(self, record: logging.LogRecord) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(_Redacting):
    """One JSON object per record: ts, level, logger, message, the record's extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, redacted."""
        entry: dict[str, Any] = {
            "ts": self.when(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.clean(record.getMessage()),
        }
        entry |= self.fields(record)
        if record.exc_info:
            entry["exc"] = self.clean(self.formatException(record.exc_info))
        line = _json_text(entry)
        # The fields are clean already; only the literal secrets are looked for again, as patterns could cut JSON.
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


class TextFormatter(_Redacting):
    """A readable line per record: time, level, logger, message, then key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of text (a traceback follows on its own lines), redacted."""
        extras = " ".join(f"{k}={_json_text(v)}" for k, v in self.fields(record).items())
        message = escape_controls(self.clean(record.getMessage()))
        line = f"{self.when(record)} {record.levelname:<7} {record.name} {message}"
        line += f" {extras}" if extras else ""
        if record.exc_info:
            line += "\n" + self.clean(self.formatException(record.exc_info))
        return redact(line, self.secrets)


def level_number(name: str) -> int:
    """A logging level from its name as `--log-level` takes it (uvicorn's `trace` is 5)."""
    return 5 if name.lower() == "trace" else logging.getLevelNamesMapping().get(name.upper(), logging.INFO)


def configure(log_format: LogFormat = "json", level: str = "info", secrets: Iterable[str] = ()) -> None:
    """Send every logger (the service's, uvicorn's, libraries') to stderr through one redacting formatter."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_number(level))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)


@dataclass
class RequestLog:
    """What the access line of the request being served will say, filled in as it is handled."""

    request_id: str
    fields: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[RequestLog | None] = ContextVar("listingeval_request_log", default=None)


def annotate(**fields: str | int | float | None) -> None:
    """Add fields (for example `variant=`, `extraction_id=`) to the current request's access line."""
    current = _current.get()
    if current is not None:
        current.fields.update({k: v for k, v in fields.items() if v is not None})


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    current = _current.get()
    return current.request_id if current else None


def request_id_of(request: Request) -> str | None:
    """The id this middleware gave a request, also where the context has moved on (an exception handler)."""
    found = request.scope.get("state", {}).get("request_id")
    return found if isinstance(found, str) else None


def request_id_from(headers: Headers) -> str:
    """The caller's `X-Request-Id` when it is short and plain, else a fresh one."""
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_ID.match(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    """Give each request an id (echoed in `X-Request-Id`) and log one access line when it is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then log method, route, status, latency and the annotated fields."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = RequestLog(request_id_from(Headers(scope=scope)))
        # Also on the scope: the crash handler runs outside this middleware, after the context is reset.
        scope.setdefault("state", {})["request_id"] = state.request_id
        token = _current.set(state)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = state.request_id
            await send(message)

        failed: str | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            failed = type(exc).__name__
            raise
        finally:
            _current.reset(token)
            _log_access(scope, state, status, (time.perf_counter() - started) * 1000, failed)


def _log_access(scope: Scope, state: RequestLog, status: int, latency_ms: float, failed: str | None) -> None:
    route = getattr(scope.get("route"), "path", None)
    fields: dict[str, Any] = {
        "request_id": state.request_id,
        "method": scope["method"],
        "route": route,
        "path": scope["path"],
        "status": status,
        "latency_ms": round(latency_ms, 1),
    }
    params = scope.get("path_params") or {}
    if isinstance(params.get("extraction_id"), str):
        fields["extraction_id"] = params["extraction_id"]
    fields |= state.fields
    if failed:
        fields["exception"] = failed
    level = logging.ERROR if status >= 500 else logging.INFO
    safe = {k: v for k, v in fields.items() if k not in _RESERVED}  # logging refuses to overwrite its own
    access_logger.log(level, "%s %s %s", scope["method"], route or scope["path"], status, extra=safe)
