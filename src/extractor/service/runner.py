"""One extraction request end to end: variant, pending row, model call under a deadline, result."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Protocol, TypeVar

import anyio

from extractor.outcome import Extraction, Outcome
from extractor.prompts import load_prompt
from extractor.service.config import ServiceConfig, Variant
from extractor.service.metrics import Metrics
from extractor.service.records import Finished, Pending, Status, Upload, utcnow
from extractor.service.store import Store
from extractor.service.variants import assign

T = TypeVar("T")


class ExtractorLike(Protocol):
    """What the service needs from an extractor: `Extractor.extract_bytes`."""

    def extract_bytes(self, raw: bytes, model: str | None = None, prompt: str | None = None) -> Outcome: ...


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

    def __init__(self, config: ServiceConfig, store: Store, metrics: Metrics, extractor: ExtractorLike):
        self.config = config
        self.store = store
        self.metrics = metrics
        self.extractor = extractor
        self.pool = ThreadPoolExecutor(config.model_workers, thread_name_prefix="listingeval-model")

    def close(self) -> None:
        """Stop taking model calls; calls already running finish in the background."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    def variant_for(self, user_id: str) -> Variant:
        """The user's sticky variant."""
        return assign(self.config.variants, self.config.salt, user_id)

    async def run(self, upload: Upload, user_id: str) -> tuple[Pending, Finished]:
        """Store a pending row, call the model under the deadline and store how it ended."""
        variant = self.variant_for(user_id)
        pending = Pending(
            id=uuid.uuid4().hex,
            user_id=user_id,
            variant=variant.name,
            model=variant.model,
            prompt_id=load_prompt(variant.prompt).id,
            upload=upload,
            created_at=utcnow(),
        )
        started = time.perf_counter()
        await _in_thread(lambda: self.store.start(pending))
        done = Finished("error", error_type="internal", error_message="the request was interrupted")
        try:
            done = await self._call_model(upload, variant)
        except Exception as exc:
            done = Finished("error", error_type="internal", error_message=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            elapsed = time.perf_counter() - started
            done = replace(done, latency_ms=round(elapsed * 1000))
            with anyio.CancelScope(shield=True):
                await _in_thread(lambda: self.store.finish(pending.id, done))
            self._count(variant.name, done, elapsed)
        return pending, done

    async def _call_model(self, upload: Upload, variant: Variant) -> Finished:
        deadline = self.config.deadline_s
        future = self.pool.submit(self.extractor.extract_bytes, upload.data, model=variant.model, prompt=variant.prompt)
        try:
            outcome = await asyncio.wait_for(asyncio.wrap_future(future), timeout=deadline)
        except TimeoutError:
            future.cancel()
            message = f"the model call did not finish within the {deadline:g} s deadline"
            return Finished("error", error_type="timeout", error_message=message)
        return classify(outcome)

    def _count(self, variant: str, done: Finished, elapsed: float) -> None:
        self.metrics.requests.labels(variant, done.status).inc()
        self.metrics.latency.labels(variant).observe(elapsed)
        self.metrics.tokens.labels(variant, "input").inc(done.input_tokens)
        self.metrics.tokens.labels(variant, "output").inc(done.output_tokens)


async def _in_thread(func: Callable[[], T]) -> T:
    """Run a blocking database call off the event loop."""
    return await anyio.to_thread.run_sync(func)
