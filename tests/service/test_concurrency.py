"""Concurrent requests: none lost in the database or in the metrics."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from extractor.service.app import create_app
from extractor.service.storage.records import LogFilter
from extractor.service.storage.store import Store
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.service.conftest import AUTH, fake_extractor, make_config, png

pytestmark = pytest.mark.service

N = 200


async def _burst(app: FastAPI) -> tuple[list[int], str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service", timeout=60) as client:
        images = [png((i % 256, (i * 7) % 256, 50)) for i in range(N)]

        async def one(i: int) -> int:
            files = {"image": (f"{i}.png", images[i], "image/png")}
            response = await client.post("/v1/extractions", files=files, headers={"X-User-Id": f"u{i}"})
            return response.status_code

        codes = await asyncio.gather(*(one(i) for i in range(N)))
        metrics = (await client.get("/metrics", headers=AUTH)).text
    return list(codes), metrics


def test_200_concurrent_requests_give_200_rows(store: Store, fake_openai: FakeOpenAI) -> None:
    fake_openai.latency_s = 0.05
    app = create_app(make_config(store), fake_extractor(fake_openai), store=store)
    try:
        codes, metrics = asyncio.run(_burst(app))
    finally:
        app.state.runner.close()
    assert codes == [200] * N
    assert store.count() == N
    _, total = store.page(LogFilter("ok"), 0, 1)
    assert total == N
    assert f'listingeval_requests_total{{status="ok",variant="default"}} {float(N)}' in metrics
    assert len(fake_openai.requests) == N
