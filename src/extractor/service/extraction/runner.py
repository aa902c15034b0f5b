"""One extraction request end to end: variant, pending row, model call under a deadline, result."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Protocol, TypeVar

import anyio
from sqlalchemy import Connection

from extractor.outcome import Extraction, Outcome
from extractor.prompts import load_prompt
from extractor.service.api.errors import ApiError
from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.metrics import Metrics
from extractor.service.online.grader import Grader, default_grader
from extractor.service.online.worker import OnlineWorker
from extractor.service.quality.monitor import drift_forever
from extractor.service.rollout.commands import Rollouts
from extractor.service.rollout.monitor import watch_forever
from extractor.service.rollout.routing import Assignment, Routing, assign_request
from extractor.service.rollout.shadow import Shadow
from extractor.service.rollout.store import RolloutStore, read_routing
from extractor.service.storage.durability import TRANSIENT_ERRORS, Durability, Throttle, describe, retry_write
from extractor.service.storage.outbox import Outbox, OutboxFull, drain_forever
from extractor.service.storage.reaper import reap_forever
from extractor.service.storage.records import Finished, Pending, Status, Upload, utcnow
from extractor.service.storage.store import Store

T = TypeVar("T")
log = logging.getLogger(__name__)
# Timers on two threads: the extractor's capped timeout may fire this much before `wait_for`'s.
_DEADLINE_SLACK_S = 0.05


# Blocking: the upload to store (metadata stripped), checked to decode.
Accept = Callable[[], Upload]


class ExtractorLike(Protocol):
    """What the service needs from an extractor: `Extractor.extract_bytes`."""

    def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Outcome: ...


# An extractor whose `extract_bytes` also takes `deadline=` (a `time.monotonic()` value) gets the
# request's deadline, so its retries stop there; see `Extractor.extract_bytes`.


def classify(outcome: Outcome) -> Finished:
    """Map an extractor outcome to a stored status, output and error."""
    status: Status
    output: dict[str, Any] | None = None
    error_type: str | None = None
    message: str | None = None
    if isinstance(outcome, Extraction):
        status, output = "ok", outcome.listing.model_dump(mode="json")
        if not outcome.listing.title.strip() and not outcome.listing.description.strip():
            status, error_type = "empty", "empty_output"
            message = "the listing has an empty title and description"
    elif outcome.type == "invalid_output" and outcome.code == "empty_output":
        status, error_type, message = "empty", "empty_output", outcome.message
    elif outcome.type in ("refusal", "invalid_image"):
        status, error_type, message = outcome.type, outcome.type, outcome.message
    else:
        status, error_type, message = "error", outcome.type, outcome.summary()
    return Finished(
        status,
        output,
        error_type,
        message,
        model=outcome.model or None,
        prompt_id=outcome.prompt_id or None,
        response_id=outcome.response_id,
        input_tokens=outcome.usage.input_tokens,
        output_tokens=outcome.usage.output_tokens,
    )


class Runner:
    """Runs extractions for the API: the blocking model call goes to a bounded thread pool."""

    def __init__(
        self,
        config: ServiceConfig,
        store: Store,
        metrics: Metrics,
        extractor: ExtractorLike,
        durability: Durability | None = None,
        grader: Grader | None = None,
    ):
        self.config = config
        self.store = store
        self.metrics = metrics
        self.extractor = extractor
        self.rollouts = RolloutStore(store.engine)
        self.durability = durability or Durability.from_env(config.db_url)
        self.outbox = Outbox(self.durability.outbox_dir, self.durability.outbox_max)
        self.pool = ThreadPoolExecutor(config.model_workers, thread_name_prefix="listingeval-model")
        self._takes_deadline = _takes_deadline(extractor)
        self.shadow = Shadow(config, store.engine, metrics, self.call_model)
        if grader is None and config.online.judges:
            grader = default_grader(extractor, config.settings)
        self.online = OnlineWorker(config.online, store.engine, metrics, grader)
        self._refusing = Throttle(log)
        self._deferring = Throttle(log)

    def close(self) -> None:
        """Stop taking model calls; calls already running finish in the background."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.shadow.close()
        self.online.close()

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Drain the outbox, reap rows, watch the rollout and drift, and score online while the app runs."""
        durability = self.durability
        async with anyio.create_task_group() as group:
            group.start_soon(drain_forever, self.outbox, self.store, durability.drain_interval_s)
            group.start_soon(
                reap_forever, self.store, self.config.deadline_s, durability.reap_grace_s, durability.reap_interval_s
            )
            group.start_soon(
                watch_forever,
                Rollouts(self.config, self.store.engine),
                self.metrics,
                self.config.rollout.check_interval_s,
            )
            if self.config.online.enabled:
                group.start_soon(self.online.run_forever)
            group.start_soon(drift_forever, self.store.engine, self.config.drift, self.metrics)
            try:
                yield
            finally:
                group.cancel_scope.cancel()

    def assignment(self, user_id: str) -> tuple[Routing, Assignment]:
        """The routing now (read from the database: every replica follows a change at once) and the user's variant."""
        routing = self.rollouts.routing()
        return routing, assign_request(self.config, routing, user_id)

    async def run(self, accept: Accept, user_id: str) -> tuple[Pending, Finished]:
        """Accept the photo, store a pending row, call the model under the deadline and store how it ended.

        `accept` (blocking) gives the upload to store; it may refuse the photo with an ApiError,
        and then nothing is stored. It runs once, in the worker thread that writes the pending
        row, just before the first write: one thread trip for both. The model's copy of the photo
        is made in the model's thread: made here, its full decode and re-encode would sit in the
        path of every pending write and lengthen the slowest requests (benchmarks/service_load).
        A database that does not answer gives a 503 `database_unavailable` before the model is
        called; once a result is known it is stored, or kept in the outbox, and returned.
        """
        extraction_id = uuid.uuid4().hex
        created_at = utcnow()
        uploads: list[Upload] = []
        accepted: list[Pending] = []
        chosen: list[tuple[Routing, Assignment]] = []

        def prepare(conn: Connection) -> Pending:
            if not accepted:  # a retried write keeps the first assignment
                routing = read_routing(conn)
                assignment = assign_request(self.config, routing, user_id)
                chosen.append((routing, assignment))
                accepted.append(
                    Pending(
                        id=extraction_id,
                        user_id=user_id,
                        variant=assignment.variant.name,
                        model=assignment.variant.model,
                        prompt_id=load_prompt(assignment.variant.prompt).id,
                        upload=uploads[0],
                        created_at=created_at,
                        rollout_id=assignment.rollout_id,
                    )
                )
            return accepted[0]

        def start() -> Pending:
            if not uploads:  # nor does it redo the image work, which happens outside the transaction
                uploads.append(accept())
            return self.store.start_with(prepare)

        started = time.perf_counter()
        try:
            pending = await retry_write(start, self.durability.write_delays_s)
        except TRANSIENT_ERRORS as exc:
            if accepted:
                await self._not_started(accepted[0], exc)
            raise _unavailable("the request could not be recorded") from None
        except ApiError as exc:
            if exc.type == "invalid_image":
                # Nothing is stored for a refused image, not even a routing read: the counter keeps
                # the rate visible under the user's catalogue variant.
                variant_name = assign_request(self.config, Routing(), user_id).variant.name
                self.metrics.requests.labels(variant_name, "invalid_image").inc()
            raise
        upload = pending.upload
        routing, assignment = chosen[0]
        variant = assignment.variant
        done = Finished("error", error_type="internal", error_message="the request was interrupted")
        kept = False
        try:
            done = await self.call_model(upload.data, variant, self.pool)
        except Exception as exc:
            done = Finished("error", error_type="internal", error_message=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            elapsed = time.perf_counter() - started
            done = replace(done, latency_ms=round(elapsed * 1000))
            with anyio.CancelScope(shield=True):
                kept = await self._keep(pending.id, done)
            self._count(variant.name, done, elapsed)
        if not kept:
            raise _unavailable("the result could not be stored")
        self.online.wake()
        self.shadow.offer(routing, pending)
        return pending, done

    async def _keep(self, extraction_id: str, done: Finished) -> bool:
        """Store the result, retrying briefly, else put it in the outbox; False when both failed."""
        finished_at = utcnow()
        try:
            await retry_write(
                lambda: self.store.finish(extraction_id, done, finished_at), self.durability.write_delays_s
            )
            return True
        except TRANSIENT_ERRORS as exc:
            self._deferring.warning(f"database unavailable, results go to the outbox ({describe(exc)})")
        try:
            await _in_thread(lambda: self.outbox.put(extraction_id, done, finished_at))
            return True
        except (OutboxFull, OSError) as exc:
            log.error("extraction %s: result lost, the outbox cannot keep it: %s", extraction_id, exc)
            return False

    async def _not_started(self, pending: Pending, exc: Exception) -> None:
        """After a failed start, queue a closing write in case the row was in fact committed.

        The last attempt may have committed with its answer lost; the client is told 503, so the
        row (if any) ends as an error when the outbox drains instead of waiting for the reaper.
        """
        self._refusing.warning(f"database unavailable, requests are refused ({describe(exc)})")
        message = "the database did not confirm the request; the model was not called"
        closing = Finished("error", error_type="database_unavailable", error_message=message)
        # Half the outbox at most: room for finished results, which are worth more, must remain.
        limit = self.outbox.max_entries // 2
        with contextlib.suppress(OutboxFull, OSError):
            await _in_thread(lambda: self.outbox.put(pending.id, closing, utcnow(), limit))

    async def call_model(self, data: bytes, variant: Variant, pool: ThreadPoolExecutor) -> Finished:
        """One model call for `variant` on `pool`, cut at the service's deadline, as a stored result."""
        deadline_s = self.config.deadline_s
        deadline = time.monotonic() + deadline_s
        options: dict[str, Any] = {"model": variant.model, "prompt": variant.prompt}
        if self._takes_deadline:
            options["deadline"] = deadline
        call = functools.partial(self.extractor.extract_bytes, data, **options)
        future = pool.submit(call)
        message = f"the model call did not finish within the {deadline_s:g} s deadline"
        try:
            outcome = await asyncio.wait_for(asyncio.wrap_future(future), timeout=deadline_s)
        except TimeoutError:
            future.cancel()
            return Finished("error", error_type="timeout", error_message=message)
        if _cut_by_deadline(outcome, deadline):
            # The extractor's own timeout, capped at the deadline, can beat `wait_for` by a hair.
            return replace(classify(outcome), error_type="timeout", error_message=message)
        return classify(outcome)

    def _count(self, variant: str, done: Finished, elapsed: float) -> None:
        self.metrics.requests.labels(variant, done.status).inc()
        self.metrics.latency.labels(variant).observe(elapsed)
        self.metrics.tokens.labels(variant, "input").inc(done.input_tokens)
        self.metrics.tokens.labels(variant, "output").inc(done.output_tokens)


def _unavailable(what: str) -> ApiError:
    error = ApiError(503, "database_unavailable", f"{what}: the database is unavailable; try again shortly")
    error.headers["Retry-After"] = "1"
    return error


def _cut_by_deadline(outcome: Outcome, deadline: float) -> bool:
    """Whether a failure is the last attempt timing out at the deadline (or none fitting before it)."""
    if isinstance(outcome, Extraction) or outcome.type != "api_error":
        return False
    return outcome.code in ("APITimeoutError", "deadline_exceeded") and time.monotonic() >= deadline - _DEADLINE_SLACK_S


def _takes_deadline(extractor: ExtractorLike) -> bool:
    """Whether `extract_bytes` accepts `deadline` (the real extractor does; test doubles may not)."""
    try:
        return "deadline" in inspect.signature(extractor.extract_bytes).parameters
    except (TypeError, ValueError):
        return False


async def _in_thread(func: Callable[[], T]) -> T:
    """Run a blocking database call off the event loop."""
    return await anyio.to_thread.run_sync(func)
