"""Server-rendered admin pages: per-variant figures, the log browser and one extraction."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request
from extractor.service.api.errors import ApiError
from extractor.service.dashboard import charts
from extractor.service.dashboard.pages import render as _page
from extractor.service.dashboard.stats import WINDOWS, check_window, collect, window_start
from extractor.service.deps import ConfigDep, StoreDep
from extractor.service.extraction.corrections import FIELDS, normalise
from extractor.service.review.stats import collect_reviews
from extractor.service.rollout import render as render_rollout
from extractor.service.rollout.commands import Rollouts
from extractor.service.security.auth import require_dashboard
from extractor.service.storage.records import STATUSES, LogFilter

router = APIRouter(
    prefix="/dashboard",
    dependencies=[Depends(require_dashboard), Depends(clean_request)],
    responses={
        **openapi.redirect("A browser without a session: sent to the sign-in form."),
        **openapi.error_responses(400, 401, 503, descriptions=openapi.ADMIN_503),
    },
)
PAGE_SIZE = 50
# Deep enough for any browsing; keeps the offset far from the databases' integer range.
MAX_PAGE = 100_000
RATINGS = ("up", "down", "none")


@router.get("", response_class=HTMLResponse, openapi_extra=openapi.admin())
async def overview(
    config: ConfigDep,
    store: StoreDep,
    window: Annotated[str, openapi.one_of(WINDOWS, "The time window of the figures.")] = "24h",
) -> HTMLResponse:
    """Requests, error and empty rates, latency, thumbs and corrections per variant."""
    check_window(window)
    names = [v.name for v in config.variants]
    engine = store.engine
    table, since = await anyio.to_thread.run_sync(lambda: collect(engine, window, names))
    reviewed = await anyio.to_thread.run_sync(lambda: collect_reviews(engine, window_start(window), names))
    panels = [
        {
            "stats": s,
            "traffic": charts.request_bars(s.series, f"requests over time for {s.variant}"),
            "corrections": charts.rate_bars(
                [(f, s.correction_rate(f)) for f in FIELDS],
                f"correction rate per field for {s.variant}",
            ),
        }
        for s in table
    ]
    return _page(
        "overview.html",
        panels=panels,
        window=window,
        windows=list(WINDOWS),
        since=since,
        fields=FIELDS,
        reviews=reviewed,
    )


@router.get("/logs", response_class=HTMLResponse, openapi_extra=openapi.admin())
async def logs(
    config: ConfigDep,
    store: StoreDep,
    status: Annotated[str, openapi.one_of(("", *STATUSES), "Only extractions with this status (empty: any).")] = "",
    variant: Annotated[str, Query(max_length=100)] = "",
    rating: Annotated[str, openapi.one_of(("", *RATINGS), "Only extractions with this thumb (empty: any).")] = "",
    online_failed: Annotated[
        str, Query(max_length=200, description="Only extractions this online check failed on (empty: any).")
    ] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    """Stored extractions, newest first, filtered by status, variant, rating and a failed online check."""
    if status and status not in STATUSES:
        raise ApiError(400, "bad_request", f"status must be one of {', '.join(STATUSES)}")
    if rating and rating not in RATINGS:
        raise ApiError(400, "bad_request", f"rating must be one of {', '.join(RATINGS)}")
    where = LogFilter(status or None, variant or None, rating or None, online_failed.strip() or None)
    rows, total = await anyio.to_thread.run_sync(lambda: store.page(where, (page - 1) * PAGE_SIZE, PAGE_SIZE))
    pages = max(1, -(-total // PAGE_SIZE))
    return _page(
        "logs.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        where=where,
        statuses=STATUSES,
        variants=[v.name for v in config.variants],
    )


@router.get(
    "/extractions/{extraction_id}",
    response_class=HTMLResponse,
    responses=openapi.error_responses(404),
    openapi_extra=openapi.admin(),
)
async def extraction(extraction_id: str, store: StoreDep) -> HTMLResponse:
    """One extraction: image, model output, published listing and the field diff."""
    row = await anyio.to_thread.run_sync(lambda: store.get(extraction_id))
    if row is None:
        raise ApiError(404, "not_found", f"no extraction with id {extraction_id!r}")
    output = row.output or {}
    final = row.final_listing
    diff = [
        {
            "field": name,
            "output": output.get(name),
            "final": None if final is None else final.get(name),
            "changed": final is not None and normalise(output.get(name)) != normalise(final.get(name)),
        }
        for name in FIELDS
    ]
    return _page("extraction.html", row=row, diff=diff)


_IMAGE = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/extractions/{extraction_id}/image",
    response_class=Response,
    responses={
        200: {
            "description": "The photo as uploaded; a type that is not a safe image is sent as a download.",
            "content": {"image/*": _IMAGE, "application/octet-stream": _IMAGE},
        },
        **openapi.error_responses(404),
    },
    openapi_extra=openapi.admin(),
)
async def image(extraction_id: str, store: StoreDep) -> Response:
    """The uploaded photo of one extraction (admin only; never rendered as HTML)."""
    row = await anyio.to_thread.run_sync(lambda: store.get(extraction_id))
    found = None
    if row is not None and row.image_sha256:
        sha = row.image_sha256
        found = await anyio.to_thread.run_sync(lambda: store.image(sha))
    if found is None:
        raise ApiError(404, "not_found", f"no image for extraction {extraction_id!r}")
    data, content_type = found
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"}
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        content_type = "application/octet-stream"
        headers["Content-Disposition"] = "attachment"
    return Response(data, media_type=content_type, headers=headers)


@router.get("/rollout", response_class=HTMLResponse, openapi_extra=openapi.admin())
async def rollout_page(config: ConfigDep, store: StoreDep) -> HTMLResponse:
    """The latest rollout: step, shares, each metric's difference with its interval, the decision and why."""
    status = await anyio.to_thread.run_sync(Rollouts(config, store.engine).status)
    return _page(
        "rollout.html",
        status=status,
        alpha=config.rollout.policy.alpha,
        number=render_rollout.number,
        interval=render_rollout.interval,
    )
