"""The FastAPI application: wires config, database, extractor, metrics and routes together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from extractor.service.api import errors, openapi
from extractor.service.api import routes as api
from extractor.service.api.logs import RequestLogMiddleware
from extractor.service.config import ServiceConfig
from extractor.service.dashboard import routes as dashboard
from extractor.service.extraction.metrics import Metrics
from extractor.service.extraction.runner import ExtractorLike, Runner
from extractor.service.online import routes as online_pages
from extractor.service.online.grader import Grader
from extractor.service.quality import routes as quality_pages
from extractor.service.review import routes as review_api
from extractor.service.rollout import routes as rollout_api
from extractor.service.security import auth
from extractor.service.security.auth import LoginRedirect, TokenInUrlGuard
from extractor.service.security.csrf import CsrfGuard
from extractor.service.storage.db import make_engine
from extractor.service.storage.store import Store


def default_extractor(config: ServiceConfig) -> ExtractorLike:
    """The real extractor, with its per-attempt timeout no longer than the deadline."""
    from extractor.client import Extractor

    timeout = min(config.settings.timeout_s, config.deadline_s)
    return Extractor(config.settings.with_overrides(timeout_s=timeout))


def create_app(
    config: ServiceConfig,
    extractor: ExtractorLike | None = None,
    store: Store | None = None,
    grader: Grader | None = None,
) -> FastAPI:
    """A service app; migrations are the caller's job (`serve` runs them before starting).

    `grader` is the online judge; by default the extractor's own judge (`extractor/judge.py`).
    """
    store = store or Store(make_engine(config.db_url))
    runner = Runner(config, store, Metrics(), extractor or default_extractor(config), grader=grader)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runner.background():
            yield
        runner.close()

    app = FastAPI(
        title="listingeval",
        summary="Listing extraction with A/B variants, logs, feedback and metrics.",
        lifespan=lifespan,
        # The document is for clients and contract tests; the docs pages stay off: they load scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.config = config
    app.state.store = store
    app.state.metrics = runner.metrics
    app.state.runner = runner
    errors.install(app)
    openapi.install(app)

    async def on_login(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRedirect)
        return exc.response()

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        return errors.crash_response(request, exc)

    app.add_exception_handler(LoginRedirect, on_login)
    app.add_exception_handler(Exception, on_crash)
    # The last added runs first: every request gets its id and access line, even when refused.
    app.add_middleware(CsrfGuard, public_origin=config.public_origin)
    app.add_middleware(TokenInUrlGuard)
    app.add_middleware(RequestLogMiddleware)
    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(dashboard.router)
    app.include_router(quality_pages.router)
    app.include_router(review_api.router)
    app.include_router(rollout_api.router)
    app.include_router(online_pages.router)
    return app
