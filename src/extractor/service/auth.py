"""Admin authentication: a bearer token for scripts, a signed session cookie from `/login` for browsers."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from extractor.service import csrf, sessions
from extractor.service.bodies import read_form
from extractor.service.config import ADMIN_TOKEN_ENV, ServiceConfig
from extractor.service.errors import ApiError, error_response
from extractor.service.logs import logger
from extractor.service.pages import render

COOKIE = sessions.COOKIE
DEFAULT_NEXT = "/dashboard"
router = APIRouter()


def _config(request: Request) -> ServiceConfig:
    config: ServiceConfig = request.app.state.config
    return config


def _configured(request: Request) -> str:
    token = _config(request).admin_token
    if not token:
        raise ApiError(503, "admin_disabled", f"admin endpoints are off: set {ADMIN_TOKEN_ENV} to enable them")
    return token


def _key(request: Request) -> bytes:
    return sessions.signing_key(_configured(request), _config(request).session_secret)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _unauthorized(message: str) -> ApiError:
    error = ApiError(401, "unauthorized", message)
    error.headers["WWW-Authenticate"] = 'Bearer realm="listingeval"'
    return error


def current_session(request: Request) -> sessions.Session | None:
    """The verified session of the request's cookie; None when absent, forged, expired or admin is off."""
    value = request.cookies.get(COOKIE)
    if not value or not _config(request).admin_token:
        return None
    return sessions.verify(_key(request), value)


async def require_admin(request: Request) -> None:
    """Let the request through with the bearer token, or a session cookie plus, for a change, its CSRF token."""
    token = _configured(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), token):
            sessions.set_page_csrf(None)
            return  # a script: no cookie is involved, so nothing can be forged
        raise _unauthorized("the bearer token is wrong")
    session = current_session(request)
    if session is None:
        raise _unauthorized("send Authorization: Bearer <admin token>, or sign in at /login")
    expected = session.csrf_token(_key(request))
    if request.method not in csrf.SAFE_METHODS:
        await csrf.check_token(request, expected)
    sessions.set_page_csrf(expected)


class LoginRedirect(Exception):
    """A browser asked for an admin page without a session: send it to the login form."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location

    def response(self) -> RedirectResponse:
        """The 303 to `/login?next=...`."""
        return RedirectResponse(self.location, status_code=303, headers={"Cache-Control": "no-store"})


def _local(target: object) -> str:
    """`target` when it is a path on this service, else the dashboard (no open redirect)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in target or any(ord(c) < 0x20 or c == "\x7f" for c in target) or len(target) > 2000:
        return DEFAULT_NEXT
    return target


async def require_dashboard(request: Request) -> None:
    """Admin check for HTML pages: a browser without a session is sent to `/login` instead of a 401."""
    try:
        await require_admin(request)
    except ApiError as exc:
        browser = "text/html" in request.headers.get("accept", "") and "authorization" not in request.headers
        if exc.status != 401 or not browser:
            raise
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRedirect("/login?" + urlencode({"next": here})) from exc


def _login_page(request: Request, target: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    plain = request.url.scheme == "http" and not _config(request).allow_plain_http
    response = render("login.html", next=target, error=error, plain_http=plain, csrf_token=None)
    response.status_code = status
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = DEFAULT_NEXT) -> HTMLResponse:
    """The sign-in form: the admin token is typed here and posted, never put in an address."""
    _configured(request)
    return _login_page(request, _local(next))


@router.post("/login", dependencies=[Depends(csrf.require_form)])
async def login(request: Request) -> Response:
    """Swap the admin token for a signed, expiring session cookie, then go where the user was headed."""
    token = _configured(request)
    form = await read_form(request)
    target = _local(form.get("next"))
    given = form.get("token")
    if not isinstance(given, str) or not _same(given.strip(), token):
        logger.warning("admin sign-in refused: wrong token", extra={"event": "login_failed"})
        return _login_page(request, target, "That is not the admin token.", status=401)
    config = _config(request)
    value, _session = sessions.issue(_key(request), config.session_ttl_s)
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE,
        value,
        max_age=config.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=not config.allow_plain_http,
        path="/",
    )
    logger.info("admin signed in", extra={"event": "login"})
    return response


@router.post("/logout", dependencies=[Depends(csrf.require_form)])
async def logout(request: Request) -> Response:
    """Drop the session cookie (a live session must send its CSRF token, so no other site can do it)."""
    session = current_session(request)
    if session is not None:
        await csrf.check_token(request, session.csrf_token(_key(request)))
    response = RedirectResponse("/login", status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=not _config(request).allow_plain_http
    )
    if session is not None:
        logger.info("admin signed out", extra={"event": "logout"})
    return response


class TokenInUrlGuard:
    """Refuse any request with `?token=`: an address ends up in access logs, history and Referer headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 400 to a `token` query parameter, without looking at or logging its value."""
        query = scope.get("query_string", b"").decode("latin-1") if scope["type"] == "http" else ""
        if not any(name.lower() == "token" for name, _ in parse_qsl(query, keep_blank_values=True)):
            await self.app(scope, receive, send)
            return
        logger.warning("refused a request with a token parameter in its address", extra={"reason": "token_in_url"})
        response = error_response(
            400,
            "token_in_url",
            "the admin token is not accepted in the address: sign in at /login, "
            "or send Authorization: Bearer <admin token>",
            {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )
        await response(scope, receive, send)
