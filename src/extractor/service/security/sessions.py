"""Signed, expiring admin session cookies and the CSRF token bound to each session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass

COOKIE = "listingeval_session"
VERSION = "v1"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
DEFAULT_TTL_S = 12 * 3600
# A cookie issued a little "in the future" by a replica whose clock runs ahead is still fine.
_CLOCK_SKEW_S = 60
_SHAPE = re.compile(r"^v1\.([A-Za-z0-9_-]{22})\.(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")

# The CSRF token of the session that opened the current page, for templates rendered without the request.
_page_csrf: ContextVar[str | None] = ContextVar("listingeval_page_csrf", default=None)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signing_key(admin_token: str, secret: str | None = None) -> bytes:
    """The HMAC key: from the configured secret when there is one, always bound to the admin token."""
    # Binding the admin token means rotating it logs every browser out, secret or not.
    bound = hashlib.sha256(admin_token.encode()).digest()
    return hmac.new((secret or admin_token).encode(), b"listingeval-session-v1\x00" + bound, hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


@dataclass(frozen=True)
class Session:
    """A verified session: its random id and when it was issued and expires (Unix seconds)."""

    sid: str
    issued_at: int
    expires_at: int

    def csrf_token(self, key: bytes) -> str:
        """The CSRF token of this session: an HMAC of its id, so only the server can make it."""
        return _b64(hmac.new(key, b"csrf\x00" + self.sid.encode(), hashlib.sha256).digest())


def issue(key: bytes, ttl_s: int = DEFAULT_TTL_S, now: float | None = None) -> tuple[str, Session]:
    """A new session and its cookie value `v1.<sid>.<issued>.<expires>.<signature>`."""
    issued = int(time.time() if now is None else now)
    session = Session(_b64(secrets.token_bytes(16)), issued, issued + ttl_s)
    payload = f"{VERSION}.{session.sid}.{session.issued_at}.{session.expires_at}"
    return f"{payload}.{_sign(key, payload)}", session


def verify(key: bytes, value: str, now: float | None = None) -> Session | None:
    """The session of a cookie value, or None when it is malformed, forged or expired."""
    match = _SHAPE.match(value)
    if match is None:
        return None
    sid, issued, expires, signature = match.groups()
    payload = f"{VERSION}.{sid}.{issued}.{expires}"
    if not hmac.compare_digest(_sign(key, payload), signature):
        return None
    current = time.time() if now is None else now
    session = Session(sid, int(issued), int(expires))
    if not session.issued_at - _CLOCK_SKEW_S <= current < session.expires_at:
        return None
    return session


def same_token(given: str | None, expected: str) -> bool:
    """Whether a submitted CSRF token is the expected one (constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def set_page_csrf(token: str | None) -> None:
    """Remember the CSRF token for the page being rendered in this request."""
    _page_csrf.set(token)


def page_csrf() -> str | None:
    """The CSRF token for the page being rendered in this request, if a session opened it."""
    return _page_csrf.get()
