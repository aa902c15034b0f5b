"""Admin endpoints: bearer token, dashboard cookie, and closed when no token is configured."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from extractor.service.auth import COOKIE
from tests.service.conftest import ADMIN_TOKEN, AUTH, ClientFactory, upload

pytestmark = pytest.mark.service

ADMIN_PATHS = ["/metrics", "/dashboard", "/dashboard/logs", "/v1/extractions/x"]


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


def test_query_token_is_swapped_for_an_httponly_cookie(client: TestClient) -> None:
    response = client.get(f"/dashboard/logs?status=ok&token={ADMIN_TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/logs?status=ok"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert ADMIN_TOKEN not in cookie
    assert client.get("/dashboard/logs?status=ok").status_code == 200
    client.cookies.clear()
    assert client.get("/dashboard").status_code == 401


def test_wrong_query_token_or_cookie_is_refused(client: TestClient) -> None:
    assert client.get("/dashboard?token=nope", follow_redirects=False).status_code == 401
    client.cookies.set(COOKIE, "forged")
    assert client.get("/dashboard").status_code == 401
