"""Helpers shared by the session, CSRF and review tests: signing in as a browser does, and reading the page's token."""

from __future__ import annotations

import re

import httpx2
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.service.storage.store import Store
from extractor.service.storage.tables import reviews
from tests.service.conftest import ADMIN_TOKEN

OWN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
SAME_SITE = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}


def sign_in(client: TestClient, next_: str = "/dashboard", token: str = ADMIN_TOKEN) -> httpx2.Response:
    """Post the login form as the browser does from the login page (the redirect is not followed)."""
    return client.post("/login", data={"token": token, "next": next_}, headers=OWN, follow_redirects=False)


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def review_count(store: Store) -> int:
    """How many reviews the database holds."""
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(reviews)).scalar_one())
