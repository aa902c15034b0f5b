"""Typed dependency providers for what `create_app` wires in: config, store, runner, metrics, revocations.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
that trip (two thread switches and a wake-up of the event loop) costs far more CPU than
reading an attribute. Keep any dependency that does not block `async def`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from extractor.service.config import ServiceConfig
from extractor.service.extraction.metrics import Metrics
from extractor.service.extraction.runner import Runner
from extractor.service.storage.revocations import Revocations
from extractor.service.storage.store import Store


def config_of(request: Request) -> ServiceConfig:
    """The app's service configuration, for helpers that read it outside a dependency."""
    config: ServiceConfig = request.app.state.config
    return config


async def get_config(request: Request) -> ServiceConfig:
    """The app's service configuration."""
    return config_of(request)


async def get_store(request: Request) -> Store:
    """The app's database store."""
    store: Store = request.app.state.store
    return store


async def get_runner(request: Request) -> Runner:
    """The app's extraction runner."""
    runner: Runner = request.app.state.runner
    return runner


async def get_metrics(request: Request) -> Metrics:
    """The app's Prometheus metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_revocations(store: Annotated[Store, Depends(get_store)]) -> Revocations:
    """The signed-out admin sessions, in the app's database."""
    return Revocations(store.engine)


ConfigDep = Annotated[ServiceConfig, Depends(get_config)]
StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
RevocationsDep = Annotated[Revocations, Depends(get_revocations)]
