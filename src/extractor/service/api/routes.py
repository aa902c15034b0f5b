"""The public API: extractions, feedback, final listings, health, metrics and admin reads."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from extractor.schema import Listing
from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request, discard_body, read_json
from extractor.service.api.errors import ApiError, unavailable
from extractor.service.api.logs import annotate
from extractor.service.api.uploads import FIELD, accept_image, read_image
from extractor.service.deps import MetricsDep, RunnerDep, StoreDep
from extractor.service.extraction.corrections import corrected_fields
from extractor.service.online.store import results_of
from extractor.service.security.auth import require_admin
from extractor.service.storage.records import Rating, Status

router = APIRouter(dependencies=[Depends(clean_request)])

_FAILURE_STATUS = {"ok": 200, "invalid_image": 400}
MAX_DESCRIPTION_CHARS = 10_000
MAX_BRAND_CHARS = 200
MAX_USER_ID_CHARS = 200


class Feedback(BaseModel):
    """A thumb on one extraction, with an optional comment."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=4000)


class FinalListing(Listing):
    """A published listing: the Listing schema with bounds on its free-text fields, since it is stored."""

    description: str = Field(max_length=MAX_DESCRIPTION_CHARS)
    brand: str | None = Field(max_length=MAX_BRAND_CHARS)


class ExtractionResult(BaseModel):
    """A successful extraction: its id, the user's variant, the listing and how long it took."""

    id: str
    variant: str
    listing: Listing
    latency_ms: int | None


class OnlineResult(BaseModel):
    """One online check or sampled judge verdict on a served output."""

    check: str = Field(description="`<field>:<check>`, or `<field>:judge` for the judge's verdict.")
    field: str | None
    kind: Literal["check", "judge"]
    result: Literal["pass", "fail", "error"]
    reason: str | None


class ExtractionRecord(BaseModel):
    """One stored extraction, as the admin API shows it."""

    id: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    user_id: str
    variant: str
    model: str
    prompt_id: str
    status: Status
    error_type: str | None
    error_message: str | None
    output: dict[str, Any] | None
    latency_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    image_sha256: str | None
    rating: Rating | None
    comment: str | None
    final_listing: dict[str, Any] | None
    corrected_fields: list[str] | None
    online: list[OnlineResult] | None = Field(
        description="The online results once the row is scored (empty when there was no served output); "
        "null until then."
    )


class Health(BaseModel):
    """The answer of a healthy process with a reachable database."""

    status: Literal["ok"]


def _unknown(extraction_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no extraction with id {extraction_id!r}")


@router.post(
    "/v1/extractions",
    responses=openapi.error_responses(
        400,
        413,
        502,
        503,
        descriptions={400: f"{openapi.ERRORS[400]} Also `invalid_image` when the photo does not decode."},
    ),
    openapi_extra=openapi.upload_body(FIELD, "The photo: PNG, JPEG, WebP or GIF."),
)
async def create_extraction(
    request: Request,
    runner: RunnerDep,
    x_user_id: Annotated[
        str | None,
        Header(
            description="The seller's id, which keeps their variant sticky (anonymous when absent).",
            json_schema_extra={"minLength": 1, "maxLength": MAX_USER_ID_CHARS},
        ),
    ] = None,
) -> ExtractionResult:
    """Extract a listing from the uploaded photo with the user's variant, and log it."""
    limit = runner.config.max_upload_bytes
    # Checked here rather than by the Header constraints, so that the unread body is dropped first.
    if x_user_id is not None and not 0 < len(x_user_id) <= MAX_USER_ID_CHARS:
        await discard_body(request, limit)
        raise ApiError(400, "bad_request", f"X-User-Id must be 1 to {MAX_USER_ID_CHARS} characters")
    user_id = x_user_id or f"anon-{uuid.uuid4().hex}"
    raw = await read_image(request, limit)
    # The image work (stripping, the decode check) runs in the worker thread that stores the
    # pending row: one trip to a thread for both.
    pending, done = await runner.run(lambda: accept_image(raw, limit), user_id)
    annotate(variant=pending.variant, extraction_id=pending.id)
    if done.status == "ok":
        return ExtractionResult(
            id=pending.id,
            variant=pending.variant,
            listing=Listing.model_validate(done.output),
            latency_ms=done.latency_ms,
        )
    raise ApiError(
        _FAILURE_STATUS.get(done.status, 502),
        done.error_type or done.status,
        done.error_message or done.status,
        id=pending.id,
        variant=pending.variant,
        status=done.status,
    )


@router.post(
    "/v1/extractions/{extraction_id}/feedback",
    status_code=204,
    response_class=Response,
    responses=openapi.error_responses(400, 404, 413, 503),
    openapi_extra=openapi.json_body(Feedback),
)
async def post_feedback(extraction_id: str, request: Request, store: StoreDep, metrics: MetricsDep) -> Response:
    """Record a thumb up or down for an extraction."""
    feedback = await read_json(request, Feedback, "feedback")
    variant = await anyio.to_thread.run_sync(lambda: store.rate(extraction_id, feedback.rating, feedback.comment))
    if variant is None:
        raise _unknown(extraction_id)
    metrics.feedback.labels(variant, feedback.rating).inc()
    return Response(status_code=204)


@router.post(
    "/v1/extractions/{extraction_id}/final",
    status_code=204,
    response_class=Response,
    responses=openapi.error_responses(400, 404, 413, 503),
    openapi_extra=openapi.json_body(FinalListing),
)
async def post_final(extraction_id: str, request: Request, store: StoreDep, metrics: MetricsDep) -> Response:
    """Record the listing as the seller published it and which fields they corrected."""
    final = (await read_json(request, FinalListing, "listing")).model_dump(mode="json")
    found = await anyio.to_thread.run_sync(lambda: store.output_of(extraction_id))
    if found is None:
        raise _unknown(extraction_id)
    variant, output = found
    corrected = corrected_fields(output, final)
    await anyio.to_thread.run_sync(lambda: store.finalize(extraction_id, variant, final, corrected))
    metrics.finals.labels(variant).inc()
    for name in corrected:
        metrics.corrections.labels(variant, name).inc()
    return Response(status_code=204)


@router.get("/healthz", responses=openapi.error_responses(400, 503))
async def healthz(request: Request, store: StoreDep) -> Health:
    """Liveness and database check."""
    try:
        await anyio.to_thread.run_sync(store.ping)
    except Exception as exc:
        raise unavailable(exc, request) from exc
    return Health(status="ok")


@router.get(
    "/metrics",
    dependencies=[Depends(require_admin)],
    response_class=PlainTextResponse,
    responses=openapi.error_responses(400, 401, 503, descriptions={503: openapi.ADMIN_OFF}),
    openapi_extra=openapi.admin(),
)
async def metrics(app_metrics: MetricsDep) -> Response:
    """Prometheus text exposition of this process's metrics."""
    return Response(app_metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get(
    "/v1/extractions/{extraction_id}",
    dependencies=[Depends(require_admin)],
    responses=openapi.error_responses(400, 401, 404, 503, descriptions=openapi.ADMIN_503),
    openapi_extra=openapi.admin(),
)
async def get_extraction(extraction_id: str, store: StoreDep) -> ExtractionRecord:
    """One stored extraction as JSON (admin)."""
    row, online = await anyio.to_thread.run_sync(
        lambda: (store.get(extraction_id), results_of(store.engine, extraction_id))
    )
    if row is None:
        raise _unknown(extraction_id)
    return ExtractionRecord.model_validate({**row.to_dict(), "online": online})
