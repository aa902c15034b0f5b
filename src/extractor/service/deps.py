"""Typed dependency providers for the objects `create_app` wires in: config, store, runner and metrics.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
that trip (two thread switches and a wake-up of the event loop) costs far more CPU than
reading an attribute. Keep any dependency that does not block `async def`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from extractor.service.config import ServiceConfig
from extractor.service.metrics import Metrics
from extractor.service.runner import Runner
from extractor.service.store import Store


async def get_config(request: Request) -> ServiceConfig:
    """The app's service configuration."""
    config: ServiceConfig = request.app.state.config
    return config


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


ConfigDep = Annotated[ServiceConfig, Depends(get_config)]
StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
