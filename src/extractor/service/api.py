"""The public API: extractions, feedback, final listings, health, metrics and admin reads."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from extractor.schema import Listing
from extractor.service.auth import require_admin
from extractor.service.bodies import clean_request, discard_body, read_json
from extractor.service.diff import corrected_fields
from extractor.service.errors import ApiError, unavailable
from extractor.service.logs import annotate
from extractor.service.runner import Runner
from extractor.service.store import Store
from extractor.service.uploads import check_image, read_image

router = APIRouter(dependencies=[Depends(clean_request)])

_FAILURE_STATUS = {"ok": 200, "invalid_image": 400}
MAX_DESCRIPTION_CHARS = 10_000
MAX_BRAND_CHARS = 200


class Feedback(BaseModel):
    """A thumb on one extraction, with an optional comment."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=4000)


class FinalListing(Listing):
    """A published listing: the Listing schema with bounds on its free-text fields, since it is stored."""

    description: str = Field(max_length=MAX_DESCRIPTION_CHARS)
    brand: str | None = Field(max_length=MAX_BRAND_CHARS)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _unknown(extraction_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no extraction with id {extraction_id!r}")


@router.post("/v1/extractions")
async def create_extraction(request: Request, x_user_id: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Extract a listing from the uploaded photo with the user's variant, and log it."""
    runner: Runner = request.app.state.runner
    limit = runner.config.max_upload_bytes
    if x_user_id is not None and not 0 < len(x_user_id) <= 200:
        await discard_body(request, limit)
        raise ApiError(400, "bad_request", "X-User-Id must be 1 to 200 characters")
    user_id = x_user_id or f"anon-{uuid.uuid4().hex}"
    upload = await read_image(request, limit)
    try:
        await anyio.to_thread.run_sync(lambda: check_image(upload, limit))
    except ApiError:
        # Nothing is stored for a refused image; the counter keeps the rate visible.
        runner.metrics.requests.labels(runner.variant_for(user_id).name, "invalid_image").inc()
        raise
    pending, done = await runner.run(upload, user_id)
    annotate(variant=pending.variant, extraction_id=pending.id)
    if done.status == "ok":
        return {
            "id": pending.id,
            "variant": pending.variant,
            "listing": done.output,
            "latency_ms": done.latency_ms,
        }
    raise ApiError(
        _FAILURE_STATUS.get(done.status, 502),
        done.error_type or done.status,
        done.error_message or done.status,
        id=pending.id,
        variant=pending.variant,
        status=done.status,
    )


@router.post("/v1/extractions/{extraction_id}/feedback", status_code=204)
async def post_feedback(extraction_id: str, request: Request) -> Response:
    """Record a thumb up or down for an extraction."""
    feedback = await read_json(request, Feedback, "feedback")
    store = _store(request)
    variant = await anyio.to_thread.run_sync(lambda: store.rate(extraction_id, feedback.rating, feedback.comment))
    if variant is None:
        raise _unknown(extraction_id)
    request.app.state.metrics.feedback.labels(variant, feedback.rating).inc()
    return Response(status_code=204)


@router.post("/v1/extractions/{extraction_id}/final", status_code=204)
async def post_final(extraction_id: str, request: Request) -> Response:
    """Record the listing as the seller published it and which fields they corrected."""
    final = (await read_json(request, FinalListing, "listing")).model_dump(mode="json")
    store = _store(request)
    found = await anyio.to_thread.run_sync(lambda: store.output_of(extraction_id))
    if found is None:
        raise _unknown(extraction_id)
    variant, output = found
    corrected = corrected_fields(output, final)
    await anyio.to_thread.run_sync(lambda: store.finalize(extraction_id, variant, final, corrected))
    metrics = request.app.state.metrics
    metrics.finals.labels(variant).inc()
    for name in corrected:
        metrics.corrections.labels(variant, name).inc()
    return Response(status_code=204)


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Liveness and database check."""
    store = _store(request)
    try:
        await anyio.to_thread.run_sync(store.ping)
    except Exception as exc:
        raise unavailable(exc, request) from exc
    return {"status": "ok"}


@router.get("/metrics", dependencies=[Depends(require_admin)])
async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this process's metrics."""
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/extractions/{extraction_id}", dependencies=[Depends(require_admin)])
async def get_extraction(extraction_id: str, request: Request) -> dict[str, Any]:
    """One stored extraction as JSON (admin)."""
    store = _store(request)
    row = await anyio.to_thread.run_sync(lambda: store.get(extraction_id))
    if row is None:
        raise _unknown(extraction_id)
    return row.to_dict()
