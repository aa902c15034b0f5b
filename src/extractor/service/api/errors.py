"""The JSON error shape `{"error": {"type", "message"}}` and the handlers that produce it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from extractor.service.api.logs import request_id_of
from extractor.service.storage.db import UNAVAILABLE_ERRORS

logger = logging.getLogger("extractor.service")

INTERNAL_MESSAGE = "internal error"
UNAVAILABLE_MESSAGE = "the database is unavailable"
# Errors that mean the database cannot be reached or has no free connection, not a bug in a query.
DATABASE_UNAVAILABLE = UNAVAILABLE_ERRORS


class ErrorDetail(BaseModel):
    """What went wrong: a machine-readable type, a message, and per-error extras (an id, a variant)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Machine-readable kind of error, e.g. bad_request, not_found, too_large.")
    message: str = Field(description="What went wrong, for people.")


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


class ApiError(Exception):
    """An error answered as JSON with an HTTP status, a type and a message."""

    def __init__(self, http_status: int, type_: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = http_status
        self.type = type_
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}


def error_response(
    http_status: int,
    type_: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON error response in the service's shape."""
    body = {"error": {"type": type_, "message": message, **extra}}
    return JSONResponse(body, status_code=http_status, headers=headers)


def _where(request: Request | None) -> str:
    return f"{request.method} {request.url.path}" if request is not None else "-"


def _logged(level: int, what: str, exc: BaseException, request: Request | None, traceback: bool) -> str:
    """Log the exception under a new error id and return the id (the id is all a client sees)."""
    error_id = str(uuid.uuid4())
    logger.log(
        level,
        "%s %s on %s: %s: %s",
        what,
        error_id,
        _where(request),
        type(exc).__name__,
        exc,
        exc_info=exc if traceback else None,
        extra={"error_id": error_id},
    )
    return error_id


def internal_error(exc: BaseException, request: Request | None = None) -> JSONResponse:
    """A 500 saying only "internal error" and an id; the exception and its traceback are logged under that id."""
    error_id = _logged(logging.ERROR, "internal error", exc, request, traceback=True)
    return error_response(500, "internal", INTERNAL_MESSAGE, id=error_id)


def unavailable(exc: BaseException, request: Request | None = None) -> ApiError:
    """A 503 `database_unavailable` with an id; the cause is logged under that id, never answered.

    No traceback: during an outage every request would add one, and the cause says it all.
    """
    error_id = _logged(logging.WARNING, "database unavailable", exc, request, traceback=False)
    return ApiError(503, "database_unavailable", UNAVAILABLE_MESSAGE, id=error_id)


def crash_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an unhandled exception: 503 when the database is unreachable, else a bare 500.

    It carries the request's id: the handler runs outside the logging middleware's response.
    """
    if isinstance(exc, DATABASE_UNAVAILABLE):
        error = unavailable(exc, request)
        response = error_response(error.status, error.type, error.message, **error.extra)
    else:
        response = internal_error(exc, request)
    request_id = request_id_of(request)
    if request_id:
        response.headers["X-Request-Id"] = request_id
    return response


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg')}")
    return "; ".join(parts) or "invalid request"


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first matching route's)."""
    routes = request.app.router.routes
    # Asked route by route through `matches`: included routers are wrapped and have no `methods`.
    allowed = [m for m in _METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    """Answer every error, including FastAPI's own, in the JSON error shape."""

    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.type, exc.message, exc.headers, **exc.extra)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, "bad_request", _describe(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        type_ = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return error_response(exc.status_code, type_, str(exc.detail), headers)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        return crash_response(request, exc)

    async def on_disconnect(_request: Request, _exc: Exception) -> JSONResponse:
        # Nobody reads this answer; it keeps a dropped client out of the internal-error log.
        return error_response(400, "client_disconnected", "the client went away before sending its whole body")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    for kind in DATABASE_UNAVAILABLE:
        app.add_exception_handler(kind, on_database)
