"""Admin authentication: a bearer token compared in constant time, or a derived browser cookie."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from starlette.responses import RedirectResponse

from extractor.service.config import ADMIN_TOKEN_ENV
from extractor.service.errors import ApiError

COOKIE = "listingeval_admin"
COOKIE_MAX_AGE_S = 12 * 3600


def session_value(token: str) -> str:
    """The cookie value for a token: an HMAC, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"listingeval-dashboard-session", hashlib.sha256).hexdigest()


def _configured(request: Request) -> str:
    token: str | None = request.app.state.config.admin_token
    if not token:
        raise ApiError(503, "admin_disabled", f"admin endpoints are off: set {ADMIN_TOKEN_ENV} to enable them")
    return token


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _unauthorized(message: str) -> ApiError:
    error = ApiError(401, "unauthorized", message)
    error.headers["WWW-Authenticate"] = 'Bearer realm="listingeval"'
    return error


def require_admin(request: Request) -> None:
    """Let the request through only with the admin bearer token or the dashboard cookie."""
    token = _configured(request)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if header:
        if scheme.lower() == "bearer" and _same(given.strip(), token):
            return
        raise _unauthorized("the bearer token is wrong")
    cookie = request.cookies.get(COOKIE)
    if cookie and _same(cookie, session_value(token)):
        return
    raise _unauthorized("send Authorization: Bearer <admin token>")


class LoginRedirect(Exception):
    """A valid `?token=` on a dashboard page: set the cookie and reload without the token."""

    def __init__(self, location: str, cookie: str, secure: bool):
        super().__init__(location)
        self.location = location
        self.cookie = cookie
        self.secure = secure

    def response(self) -> RedirectResponse:
        """The redirect that sets the HttpOnly session cookie."""
        redirect = RedirectResponse(self.location, status_code=303)
        redirect.set_cookie(
            COOKIE,
            self.cookie,
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/",
        )
        return redirect


def require_dashboard(request: Request) -> None:
    """Admin check for HTML pages; a correct `?token=` is swapped once for a cookie."""
    given = request.query_params.get("token")
    if given is None:
        require_admin(request)
        return
    token = _configured(request)
    if not _same(given, token):
        raise _unauthorized("the token is wrong")
    query = request.url.remove_query_params("token").query
    location = request.url.path + (f"?{query}" if query else "")
    raise LoginRedirect(location, session_value(token), request.url.scheme == "https")
