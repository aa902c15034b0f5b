"""Service fixtures: the same tests on SQLite and PostgreSQL, against the fake OpenAI server."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx2
import openai
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from extractor.client import Extractor
from extractor.outcome import Extraction, Outcome, Usage
from extractor.schema import Listing
from extractor.service.app import create_app
from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.runner import ExtractorLike
from extractor.service.storage.db import make_engine, upgrade
from extractor.service.storage.store import Store
from extractor.service.storage.tables import (
    corrections,
    extractions,
    images,
    online_results,
    review_leases,
    reviews,
    revoked_sessions,
    rollout_events,
    rollouts,
    routing,
    shadow_results,
)
from extractor.settings import Settings
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.fakes.listing import DEFAULT_LISTING

PG_URL_ENV = "LISTINGEVAL_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG of one colour (distinct colours give distinct sha256s)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def postgres_engine(revision: str = "head") -> Iterator[sa.Engine]:
    """An engine on a new schema of the test PostgreSQL, migrated up to `revision`; the schema is dropped after."""
    url = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    schema = f"listingeval_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is unreachable at {url} ({exc.orig}); the service tests need it. "
            f"Start PostgreSQL or point {PG_URL_ENV} at one.",
            pytrace=False,
        )
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine, revision)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """A migrated database of each kind, shared by the session (tables emptied per test)."""
    if request.param == "postgresql":
        yield from postgres_engine()
        return
    path = tmp_path_factory.mktemp("sqlite") / "listingeval.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> Store:
    """A store on an empty database (children before the extractions they refer to)."""
    with engine.begin() as conn:
        tables: tuple[sa.Table, ...] = (review_leases, reviews, corrections, shadow_results, online_results)
        tables = (*tables, extractions, images, revoked_sessions)
        for table in (*tables, rollout_events, rollouts, routing):
            conn.execute(table.delete())
    return Store(engine)


def fast_settings(**overrides: Any) -> Settings:
    """Extractor settings with quick retries, for tests."""
    base = Settings(attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02, timeout_s=5.0)
    return base.with_overrides(**overrides)


def fake_extractor(fake: FakeOpenAI, **overrides: Any) -> Extractor:
    """The real extractor, talking to the fake OpenAI server."""
    settings = fast_settings(**overrides)
    client = openai.OpenAI(
        base_url=fake.base_url,
        api_key="test-key-not-real",
        max_retries=0,
        timeout=settings.timeout_s,
    )
    return Extractor(settings, client=client)


class StubExtractor:
    """Answers every call with the same listing, without a model (for tests about storage)."""

    def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Outcome:
        """The fake server's default listing, as a successful extraction."""
        listing = Listing.model_validate(DEFAULT_LISTING)
        return Extraction(listing, model or "stub", f"{prompt}-stub", None, Usage(10, 5), 1)


def make_config(store: Store, **overrides: Any) -> ServiceConfig:
    """A service config on the test database with the admin token set."""
    values: dict[str, Any] = {
        "variants": (Variant("default", "gpt-4.1-mini", "default", 1.0),),
        "db_url": store.engine.url.render_as_string(hide_password=False),
        "admin_token": ADMIN_TOKEN,
        "deadline_s": 5.0,
        "settings": fast_settings(),
    }
    values.update(overrides)
    return ServiceConfig(**values)


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(store: Store, fake_openai: FakeOpenAI) -> Iterator[ClientFactory]:
    """Build a TestClient for a service on the test database and the fake model."""
    clients: list[TestClient] = []

    def build(extractor: ExtractorLike | None = None, **overrides: Any) -> TestClient:
        config = make_config(store, **overrides)
        app = create_app(config, extractor or fake_extractor(fake_openai), store=store)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    """A service with one `default` variant on the fake model."""
    return make_client()


def service_app(client: TestClient) -> FastAPI:
    """The service a test client calls (its routes and `state`: store, runner, config)."""
    app = client.app
    assert isinstance(app, FastAPI), f"the client calls {type(app).__name__}, not the service"
    return app


def upload(client: TestClient, data: bytes | None = None, user: str | None = None) -> httpx2.Response:
    """POST a photo to /v1/extractions."""
    headers = {"X-User-Id": user} if user else {}
    files = {"image": ("photo.png", data if data is not None else png(), "image/png")}
    return client.post("/v1/extractions", files=files, headers=headers)


def db_path(store: Store) -> Path | None:
    """The SQLite file behind the store, if any."""
    database = store.engine.url.database
    return Path(database) if store.engine.url.get_backend_name() == "sqlite" and database else None


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of `app`, included routers' routes too."""
    # FastAPI versions differ in how included routers are kept; newer ones list them through route contexts.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [context.route for context in iterate(app.routes) if isinstance(context.route, APIRoute)]
