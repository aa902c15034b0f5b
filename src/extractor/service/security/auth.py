"""Admin authentication: a bearer token for scripts, a signed session cookie from `/login` for browsers."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request, read_form
from extractor.service.api.errors import ApiError, error_response
from extractor.service.api.logs import logger
from extractor.service.config import ADMIN_TOKEN_ENV, ServiceConfig
from extractor.service.dashboard.pages import render
from extractor.service.deps import ConfigDep, RevocationsDep
from extractor.service.security import csrf, sessions
from extractor.service.storage.revocations import Revocations

COOKIE = sessions.COOKIE
DEFAULT_NEXT = "/dashboard"
router = APIRouter(dependencies=[Depends(clean_request)])


def _configured(config: ServiceConfig) -> str:
    token = config.admin_token
    if not token:
        raise ApiError(503, "admin_disabled", f"admin endpoints are off: set {ADMIN_TOKEN_ENV} to enable them")
    return token


def _key(config: ServiceConfig) -> bytes:
    return sessions.signing_key(_configured(config), config.session_secret)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _unauthorized(message: str) -> ApiError:
    error = ApiError(401, "unauthorized", message)
    error.headers["WWW-Authenticate"] = 'Bearer realm="listingeval"'
    return error


async def current_session(request: Request, config: ServiceConfig, revocations: Revocations) -> sessions.Session | None:
    """The verified session of the request's cookie; None when absent, forged, expired, signed out or admin is off."""
    value = request.cookies.get(COOKIE)
    if not value or not config.admin_token:
        return None
    session = sessions.verify(_key(config), value)
    if session is None or await anyio.to_thread.run_sync(revocations.is_revoked, session.sid):
        return None
    return session


async def require_admin(request: Request, config: ConfigDep, revocations: RevocationsDep) -> None:
    """Let the request through with the bearer token, or a session cookie plus, for a change, its CSRF token."""
    token = _configured(config)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), token):
            sessions.set_page_csrf(None)
            return  # a script: no cookie is involved, so nothing can be forged
        raise _unauthorized("the bearer token is wrong")
    session = await current_session(request, config, revocations)
    if session is None:
        raise _unauthorized("send Authorization: Bearer <admin token>, or sign in at /login")
    expected = session.csrf_token(_key(config))
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


async def require_dashboard(request: Request, config: ConfigDep, revocations: RevocationsDep) -> None:
    """Admin check for HTML pages: a browser without a session is sent to `/login` instead of a 401."""
    try:
        await require_admin(request, config, revocations)
    except ApiError as exc:
        browser = "text/html" in request.headers.get("accept", "") and "authorization" not in request.headers
        if exc.status != 401 or not browser:
            raise
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRedirect("/login?" + urlencode({"next": here})) from exc


def _login_page(
    request: Request, config: ServiceConfig, target: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    plain = request.url.scheme == "http" and not config.allow_plain_http
    response = render("login.html", next=target, error=error, plain_http=plain, csrf_token=None)
    response.status_code = status
    return response


_NEXT_FIELD = {"type": "string", "description": "The path to go to once signed in (this service's own only)."}


@router.get(
    "/login",
    response_class=HTMLResponse,
    responses=openapi.error_responses(400, 503, descriptions={503: openapi.ADMIN_OFF}),
)
async def login_page(
    request: Request,
    config: ConfigDep,
    next: Annotated[str, Query(description=_NEXT_FIELD["description"])] = DEFAULT_NEXT,
) -> HTMLResponse:
    """The sign-in form: the admin token is typed here and posted, never put in an address."""
    _configured(config)
    return _login_page(request, config, _local(next))


@router.post(
    "/login",
    dependencies=[Depends(csrf.require_form)],
    status_code=303,
    response_class=RedirectResponse,
    responses={
        **openapi.redirect("Signed in: the session cookie is set."),
        401: {"description": "Not the admin token: the form again, with the error.", "content": openapi.HTML},
        **openapi.error_responses(400, 403, 413, 415, 503, descriptions={503: openapi.ADMIN_OFF}),
    },
    openapi_extra=openapi.form_body(
        {"token": {"type": "string", "description": "The admin token."}, "next": _NEXT_FIELD}, ["token"]
    ),
)
async def login(request: Request, config: ConfigDep) -> Response:
    """Swap the admin token for a signed, expiring session cookie, then go where the user was headed."""
    token = _configured(config)
    form = await read_form(request)
    target = _local(form.get("next"))
    given = form.get("token")
    if not isinstance(given, str) or not _same(given.strip(), token):
        logger.warning("admin sign-in refused: wrong token", extra={"event": "login_failed"})
        return _login_page(request, config, target, "That is not the admin token.", status=401)
    value, _session = sessions.issue(_key(config), config.session_ttl_s)
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


@router.post(
    "/logout",
    dependencies=[Depends(csrf.require_form)],
    status_code=303,
    response_class=RedirectResponse,
    responses={
        **openapi.redirect("Signed out: the session is refused from now on and its cookie dropped."),
        **openapi.error_responses(400, 403, 413, 415, 503),
    },
    openapi_extra=openapi.form_body(
        {sessions.CSRF_FIELD: {"type": "string", "description": "The session's CSRF token."}}, []
    ),
)
async def logout(request: Request, config: ConfigDep, revocations: RevocationsDep) -> Response:
    """Sign the session out for good and drop its cookie (a live session must send its CSRF token)."""
    # Read with or without a session, so that a malformed form is a 400 either way, as documented.
    await read_form(request)
    session = await current_session(request, config, revocations)
    if session is not None:
        await csrf.check_token(request, session.csrf_token(_key(config)))
        # Server side too: a copy of the cookie (another tab, a stolen one) stops working now.
        await anyio.to_thread.run_sync(revocations.revoke, session.sid, session.expires_at)
    response = RedirectResponse("/login", status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=not config.allow_plain_http)
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
