"""Cross-site request forgery defences for the admin and review surface."""

from __future__ import annotations

import re

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from extractor.service.api.bodies import read_form
from extractor.service.api.errors import ApiError, error_response
from extractor.service.api.logs import logger
from extractor.service.security.sessions import CSRF_FIELD, CSRF_HEADER, same_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# The seller's app posts here from anywhere and without cookies; every other change is admin-only.
_PUBLIC = re.compile(r"^/v1/extractions(?:/[^/]+/(?:feedback|final))?/?$")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def own_origin(scheme: str, host: str) -> str:
    """This service's origin as a browser writes it in `Origin`, from the request's scheme and Host."""
    host = host.strip().lower()
    name, sep, port = host.rpartition(":")
    if sep and "]" not in port and port == _DEFAULT_PORTS.get(scheme):
        host = name
    return f"{scheme}://{host}"


def cross_site_problem(headers: Headers, scheme: str, public_origin: str | None) -> str | None:
    """Why a state-changing request did not come from this service's own pages, or None when it did."""
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"a {site[:40]} request cannot change anything here: use this service's own pages"
    origin = headers.get("origin")
    if origin is None:
        return None
    allowed = {own_origin(scheme, headers.get("host", ""))}
    if public_origin:
        allowed.add(public_origin)
    if origin.strip().lower().rstrip("/") not in allowed:
        return f"Origin {origin[:200]!r} is not this service's origin"
    return None


class CsrfGuard:
    """Refuse every state-changing request outside the public API unless it comes from this origin."""

    def __init__(self, app: ASGIApp, public_origin: str | None = None) -> None:
        self.app = app
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check `Sec-Fetch-Site` and `Origin` before the request reaches a route."""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or _PUBLIC.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        problem = cross_site_problem(Headers(scope=scope), scope.get("scheme", "http"), self.public_origin)
        if problem is None:
            await self.app(scope, receive, send)
            return
        logger.warning("refused a cross-site request: %s", problem, extra={"reason": "cross_site"})
        response = error_response(403, "csrf", f"refused: {problem}")
        await response(scope, receive, send)


async def require_json(request: Request) -> None:
    """Refuse a JSON API request whose body is not declared `application/json` (415).

    `async` although it does not wait: FastAPI would run a plain `def` dependency in a thread.
    """
    # A browser sends text/plain or a form cross-origin without asking first; application/json it cannot.
    if _media_type(request) != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")


async def require_form(request: Request) -> None:
    """Refuse a form endpoint's request that is not a form (415)."""
    if _media_type(request) not in _FORMS:
        raise ApiError(415, "unsupported_media_type", "send the form as application/x-www-form-urlencoded")


async def submitted_token(request: Request) -> str | None:
    """The CSRF token sent with a request: the `X-CSRF-Token` header or the form's `csrf_token` field."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if _media_type(request) in _FORMS:
        return (await read_form(request)).get(CSRF_FIELD)
    return None


async def check_token(request: Request, expected: str) -> None:
    """Refuse (403) a cookie-authenticated change without its session's CSRF token."""
    if not same_token(await submitted_token(request), expected):
        logger.warning("refused a request without the session's CSRF token", extra={"reason": "csrf_token"})
        raise ApiError(403, "csrf", "missing or wrong CSRF token: reload the page and submit again")
