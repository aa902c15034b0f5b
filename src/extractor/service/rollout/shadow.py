"""Shadow calls: the shadow variant answers a sample of served requests; nobody sees its answer.

The user's request never waits for it: the call is a task started after the answer is known,
on its own small thread pool, and a sampled request that finds every shadow slot busy is
skipped (and counted) rather than queued, so a slow shadow model cannot pile up work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import anyio
from sqlalchemy import Engine

from extractor.prompts import load_prompt
from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.metrics import Metrics
from extractor.service.extraction.variants import bucket
from extractor.service.rollout.routing import Routing
from extractor.service.storage.db import insert_ignore, write_transaction
from extractor.service.storage.records import Finished, Pending, utcnow
from extractor.service.storage.tables import shadow_results

log = logging.getLogger(__name__)
# Runs one model call for the shadow on the given pool (the runner's deadline-bound call).
CallModel = Callable[[bytes, Variant, ThreadPoolExecutor], Awaitable[Finished]]


def sampled(routing: Routing, pending: Pending) -> bool:
    """Whether this served request gets a shadow call (a fixed draw per extraction id)."""
    variant = routing.shadow_variant
    if variant is None or routing.shadow_share <= 0 or pending.variant == variant:
        return False
    if routing.shadow_against is not None and pending.variant != routing.shadow_against:
        return False
    return bucket("shadow", pending.id) < routing.shadow_share


class Shadow:
    """Starts shadow calls without waiting for them, at most `max_concurrency` at once."""

    def __init__(self, config: ServiceConfig, engine: Engine, metrics: Metrics, call_model: CallModel):
        self.config = config
        self.engine = engine
        self.metrics = metrics
        self.call_model = call_model
        self.max_concurrency = config.rollout.shadow_max_concurrency
        self.pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="listingeval-shadow")
        self.running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def offer(self, routing: Routing, pending: Pending) -> None:
        """Start a shadow call for this request if it is sampled and a slot is free; never waits."""
        if not sampled(routing, pending):
            return
        assert routing.shadow_variant is not None
        try:
            variant = self.config.variant(routing.shadow_variant)
        except KeyError:
            return  # removed from the catalogue since the shadow started
        if self.running >= self.max_concurrency:
            self.metrics.shadow.labels(variant.name, "skipped").inc()
            return
        self.running += 1
        task = asyncio.get_running_loop().create_task(self._run(pending, variant))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, pending: Pending, variant: Variant) -> None:
        try:
            started = time.perf_counter()
            done = await self.call_model(pending.upload.data, variant, self.pool)
            done = replace(done, latency_ms=round((time.perf_counter() - started) * 1000))
            await anyio.to_thread.run_sync(lambda: self._store(pending, variant, done))
            self.metrics.shadow.labels(variant.name, done.status).inc()
        except Exception as exc:  # a shadow failure must never reach anything the user sees
            self.metrics.shadow.labels(variant.name, "lost").inc()
            log.warning("shadow call for extraction %s not kept: %s: %s", pending.id, type(exc).__name__, exc)
        finally:
            self.running -= 1

    def _store(self, pending: Pending, variant: Variant, done: Finished) -> None:
        with write_transaction(self.engine) as conn:
            insert_ignore(
                conn,
                shadow_results,
                {
                    "extraction_id": pending.id,
                    "variant": variant.name,
                    "model": done.model or variant.model,
                    "prompt_id": done.prompt_id or load_prompt(variant.prompt).id,
                    "status": done.status,
                    "error_type": done.error_type,
                    "output": done.output,
                    "latency_ms": done.latency_ms,
                    "input_tokens": done.input_tokens,
                    "output_tokens": done.output_tokens,
                    "created_at": utcnow(),
                },
            )

    async def wait(self) -> None:
        """Wait for the shadow calls in flight (tests, and a graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Stop taking shadow calls."""
        self.pool.shutdown(wait=False, cancel_futures=True)
