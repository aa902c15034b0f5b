"""Admin endpoints: bearer token, the login form's signed session cookie, and closed when no token is configured."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.errors import ConfigError
from extractor.service.api.logs import JsonFormatter
from extractor.service.config import SESSION_SECRET_ENV, load_config
from extractor.service.security import sessions
from extractor.service.security.auth import COOKIE
from extractor.service.storage.revocations import Revocations
from extractor.service.storage.store import Store
from extractor.service.storage.tables import revoked_sessions
from tests.service.conftest import ADMIN_TOKEN, AUTH, ClientFactory, upload
from tests.service.test_session_helpers import OWN, csrf_of, sign_in

pytestmark = pytest.mark.service

ADMIN_PATHS = ["/metrics", "/dashboard", "/dashboard/logs", "/v1/extractions/x"]
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def browser(make_client: ClientFactory) -> TestClient:
    """A service whose session cookie may travel over the test client's plain http."""
    return make_client(allow_plain_http=True)


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_401_without_or_with_a_wrong_token(client: TestClient, path: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.json()["error"]["type"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_503_when_the_token_is_unset(make_client: ClientFactory, path: str) -> None:
    client = make_client(admin_token=None)
    response = client.get(path, headers=AUTH)
    assert response.status_code == 503
    assert "LISTINGEVAL_ADMIN_TOKEN" in response.json()["error"]["message"]


def test_public_endpoints_need_no_token(make_client: ClientFactory) -> None:
    client = make_client(admin_token=None)
    assert client.get("/healthz").json() == {"status": "ok"}
    extraction = upload(client).json()["id"]
    assert client.post(f"/v1/extractions/{extraction}/feedback", json={"rating": "up"}).status_code == 204


def test_bearer_token_opens_admin_endpoints(client: TestClient) -> None:
    assert client.get("/metrics", headers=AUTH).status_code == 200
    assert client.get("/dashboard", headers=AUTH).status_code == 200


def test_a_browser_without_a_session_is_sent_to_the_login_form(client: TestClient) -> None:
    response = client.get("/dashboard/logs?status=ok", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdashboard%2Flogs%3Fstatus%3Dok"
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and 'type="password" name="token"' in page.text
    assert 'name="next" value="/dashboard/logs?status=ok"' in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_login_sets_a_signed_expiring_secure_cookie(client: TestClient) -> None:
    client.base_url = "https://testserver"  # a Secure cookie only comes back over https
    response = client.post(
        "/login",
        data={"token": ADMIN_TOKEN, "next": "/dashboard/logs?status=ok"},
        headers={"Origin": "https://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/logs?status=ok"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=v1.")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie
    assert ADMIN_TOKEN not in cookie
    assert client.get("/dashboard/logs?status=ok").status_code == 200
    client.cookies.clear()
    assert client.get("/dashboard").status_code == 401


def test_plain_http_is_allowed_only_when_configured(client: TestClient, browser: TestClient) -> None:
    assert "Secure" in sign_in(client).headers["set-cookie"]
    assert 'id="plain-http"' in client.get("/login").text  # the Secure cookie would be dropped here
    plain = sign_in(browser)
    assert plain.status_code == 303 and "Secure" not in plain.headers["set-cookie"]
    assert 'id="plain-http"' not in browser.get("/login").text
    assert browser.get("/dashboard").status_code == 200


def test_a_wrong_token_at_login_is_401_and_sets_nothing(browser: TestClient) -> None:
    response = sign_in(browser, token="nope")
    assert response.status_code == 401 and 'id="login-error"' in response.text
    assert "set-cookie" not in response.headers
    assert browser.get("/dashboard").status_code == 401
    missing = browser.post("/login", data={"next": "/dashboard"}, headers=OWN)
    assert missing.status_code == 401
    not_a_form = browser.post("/login", json={"token": ADMIN_TOKEN}, headers=OWN)
    assert not_a_form.status_code == 415


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/review?annotator=a", "/review?annotator=a"),
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("", "/dashboard"),
    ],
)
def test_login_goes_back_only_to_a_page_of_this_service(browser: TestClient, target: str, location: str) -> None:
    assert sign_in(browser, target).headers["location"] == location


def _cookie(token: str = ADMIN_TOKEN, secret: str | None = None, ttl_s: int = 3600, age_s: float = 0) -> str:
    value, _ = sessions.issue(sessions.signing_key(token, secret), ttl_s, now=time.time() - age_s)
    return value


def test_expired_tampered_or_foreign_cookies_are_refused(browser: TestClient) -> None:
    good = _cookie()
    browser.cookies.set(COOKIE, good)
    assert browser.get("/dashboard").status_code == 200
    version, sid, issued, expires, signature = good.split(".")
    for value in (
        _cookie(age_s=3601),  # expired an instant ago
        _cookie(age_s=-3600),  # issued an hour in the future
        f"{version}.{sid}.{issued}.{int(expires) + 86400}.{signature}",  # stretched expiry
        f"{version}.{sid}.{issued}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{version}.{sid[::-1]}.{issued}.{expires}.{signature}",
        _cookie(token="the-previous-admin-token"),  # rotating the token logs everyone out
        "forged",
        "v1....",
    ):
        browser.cookies.clear()
        browser.cookies.set(COOKIE, value)
        assert browser.get("/dashboard").status_code == 401, value


def test_a_configured_session_secret_signs_the_cookie(make_client: ClientFactory) -> None:
    service = make_client(allow_plain_http=True, session_secret="another-long-secret-value")
    service.cookies.set(COOKIE, _cookie())
    assert service.get("/dashboard").status_code == 401
    service.cookies.set(COOKIE, _cookie(secret="another-long-secret-value"))
    assert service.get("/dashboard").status_code == 200


def test_session_lifetime_is_configurable(make_client: ClientFactory) -> None:
    service = make_client(allow_plain_http=True, session_ttl_s=60)
    assert "Max-Age=60" in sign_in(service).headers["set-cookie"]
    expires = int(service.cookies[COOKIE].split(".")[3])
    assert abs(expires - (time.time() + 60)) < 5


def test_logout_needs_the_pages_token_then_clears_the_cookie(browser: TestClient) -> None:
    sign_in(browser)
    page = browser.get("/dashboard")
    token = csrf_of(page.text)
    assert re.search(r'<form class="logout" method="post" action="/logout">', page.text)
    assert browser.post("/logout", data={"next": "/"}, headers=OWN).status_code == 403
    assert browser.post("/logout", data={"csrf_token": "x" * len(token)}, headers=OWN).status_code == 403
    assert browser.get("/dashboard").status_code == 200  # still signed in
    out = browser.post("/logout", data={"csrf_token": token}, headers=OWN, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert browser.get("/dashboard").status_code == 401
    again = browser.post("/logout", data={"next": "/"}, headers=OWN, follow_redirects=False)
    assert again.status_code == 303  # nothing to protect without a session


def test_a_copy_of_the_cookie_stops_working_at_logout_on_every_replica(
    make_client: ClientFactory, store: Store
) -> None:
    tab, other_replica = make_client(allow_plain_http=True), make_client(allow_plain_http=True)
    sign_in(tab)
    copied = tab.cookies[COOKIE]
    other = _cookie()  # another browser's session, signed with the same key
    other_replica.cookies.set(COOKIE, copied)
    assert other_replica.get("/dashboard").status_code == 200
    token = csrf_of(tab.get("/dashboard").text)
    assert tab.post("/logout", data={"csrf_token": token}, headers=OWN, follow_redirects=False).status_code == 303
    assert other_replica.get("/dashboard").status_code == 401  # the copy, on another replica
    assert other_replica.post("/logout", data={"csrf_token": token}, headers=OWN).status_code == 200  # no session left
    other_replica.cookies.set(COOKIE, other)
    assert other_replica.get("/dashboard").status_code == 200  # only that session was signed out


def test_sign_outs_are_forgotten_once_their_cookies_expired(store: Store) -> None:
    revocations = Revocations(store.engine)
    _, old = sessions.issue(b"k", ttl_s=60, now=time.time() - 120)
    _, live = sessions.issue(b"k", ttl_s=3600)
    revocations.revoke(old.sid, old.expires_at)
    revocations.revoke(live.sid, live.expires_at)
    revocations.revoke(live.sid, live.expires_at)  # twice is once
    assert revocations.is_revoked(live.sid) and not revocations.is_revoked("never-signed-in")
    with store.engine.connect() as conn:
        assert [row.sid for row in conn.execute(sa.select(revoked_sessions))] == [live.sid]


def test_pages_opened_with_the_bearer_token_have_no_sign_out_form(client: TestClient) -> None:
    page = client.get("/dashboard", headers=AUTH)
    assert page.status_code == 200 and "csrf_token" not in page.text and 'action="/logout"' not in page.text


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/logs?status=ok", "/review?annotator=a", "/healthz"])
def test_token_in_the_address_is_refused_and_never_logged(
    browser: TestClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    joiner = "&" if "?" in path else "?"
    for method in ("GET", "POST"):
        response = browser.request(method, f"{path}{joiner}token={ADMIN_TOKEN}", follow_redirects=False)
        assert response.status_code == 400, (method, path)
        error = response.json()["error"]
        assert error["type"] == "token_in_url" and "/login" in error["message"]
        assert "set-cookie" not in response.headers and browser.cookies.get(COOKIE) is None
    raw = JsonFormatter()  # no secrets to redact: the token must not be there in the first place
    # httpx2 is the test client itself logging the address it was asked to call, not the service
    lines = [raw.format(record) for record in caplog.records if not record.name.startswith("httpx")]
    assert any('"status": 400' in line and '"logger": "extractor.service.access"' in line for line in lines)
    assert not [line for line in lines if ADMIN_TOKEN in line or "token=" in line]


def _project(tmp_path: Path, service: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.listingeval]\n[tool.listingeval.service]\n{service}")
    return tmp_path


def test_session_settings_from_pyproject_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    default = load_config(start=_project(tmp_path, ""))
    assert (default.session_ttl_s, default.allow_plain_http, default.public_origin) == (43200, False, None)
    assert default.session_secret is None
    monkeypatch.setenv(SESSION_SECRET_ENV, "from-the-environment")
    table = 'session_ttl_s = 600\nallow_plain_http = true\npublic_origin = "https://Review.Example/"\n'
    config = load_config(start=_project(tmp_path, table))
    assert (config.session_ttl_s, config.allow_plain_http, config.public_origin) == (
        600,
        True,
        "https://review.example",
    )
    assert config.session_secret == "from-the-environment"


@pytest.mark.parametrize(
    "table",
    ["session_ttl_s = 0", "session_ttl_s = '1h'", "allow_plain_http = 'yes'", "public_origin = 'review.example'"],
)
def test_bad_session_settings_fail_at_start_up(tmp_path: Path, table: str) -> None:
    with pytest.raises(ConfigError, match=r"\[tool.listingeval.service\]"):
        load_config(start=_project(tmp_path, table))
