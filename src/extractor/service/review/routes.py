"""Human review: the annotator page (`/review`) and the reviews API (`POST /v1/reviews`)."""

from __future__ import annotations

import secrets
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from annotated_types import MaxLen, MinLen
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from extractor.schema import Listing
from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request, read_form, read_json
from extractor.service.api.errors import ApiError
from extractor.service.api.logs import annotate
from extractor.service.dashboard.pages import CSP, render
from extractor.service.deps import ConfigDep, StoreDep
from extractor.service.extraction.corrections import FIELDS
from extractor.service.review.queue import STRATEGIES, ReviewQueue, Strategy
from extractor.service.review.store import Review, ReviewStore
from extractor.service.review.submission import ReviewInput, bad_request, from_form, verdicts
from extractor.service.security.auth import require_admin, require_dashboard
from extractor.service.security.csrf import cross_site_problem, require_form, require_json
from extractor.service.security.sessions import CSRF_FIELD
from extractor.service.storage.store import Store

router = APIRouter(dependencies=[Depends(clean_request)])
_LONG_TEXT = {"description"}
_TEXT = {"type": "string"}


class FieldVerdict(BaseModel):
    """One judged field: whether the model had it right, and the right value."""

    correct: bool
    value: Any


class ReviewRecord(BaseModel):
    """A stored review, as the reviews API answers it."""

    id: str
    extraction_id: str
    annotator: str
    variant: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    fields: dict[str, FieldVerdict]
    comment: str | None


def _review_form() -> dict[str, Any]:
    """The review page's form: who, which extraction, and per field `<field>.right` or `<field>.value`."""
    properties: dict[str, Any] = {
        # The bounds of ReviewInput, which the form is read into.
        "extraction_id": {**_TEXT, "minLength": 1, "maxLength": 32, "description": "The extraction reviewed."},
        "annotator": {**_TEXT, "minLength": 1, "maxLength": 200, "description": "Who reviews."},
        "strategy": {"enum": list(STRATEGIES), "description": "The sampling strategy of the next item."},
        "include_reviewed": {"enum": ["1"], "description": "Also serve items others reviewed."},
        "comment": {**_TEXT, "maxLength": 4000},
        CSRF_FIELD: {**_TEXT, "description": "The session's CSRF token (signed-in browsers)."},
    }
    verdicts: list[dict[str, Any]] = []
    for name in FIELDS:
        properties[f"{name}.right"] = {**_TEXT, "description": f"Present when {name} is right."}
        properties[f"{name}.value"] = {**_value(name), "description": f"The right {name}, when it is wrong."}
        verdicts += [{"required": [f"{name}.right"]}, {"required": [f"{name}.value"]}]
    # `from_form`: a review judges at least one field (ReviewInput.fields is never empty).
    return openapi.form_body(properties, ["extraction_id", "annotator"], anyOf=verdicts)


def _value(name: str) -> dict[str, Any]:
    """A right value as the form sends it: one of the field's options, or text within the field's bounds."""
    options = _options(name)
    if options:
        return {"enum": options}
    schema: dict[str, Any] = {**_TEXT}
    for rule in Listing.model_fields[name].metadata:
        if isinstance(rule, MinLen):
            schema["minLength"] = rule.min_length
        elif isinstance(rule, MaxLen):
            schema["maxLength"] = rule.max_length
    return schema


def _options(name: str) -> list[str]:
    annotation = Listing.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return []


async def _submit(store: Store, review: ReviewInput) -> Review:
    """Validate a review against its extraction's output and store it (releasing the lease)."""
    annotate(extraction_id=review.extraction_id)
    row = await anyio.to_thread.run_sync(lambda: store.get(review.extraction_id))
    if row is None:
        raise ApiError(404, "not_found", f"no extraction with id {review.extraction_id!r}")
    if row.status != "ok" or row.output is None:
        raise ApiError(409, "not_reviewable", f"extraction {row.id} has no listing to review (status {row.status})")
    annotate(variant=row.variant)
    judged = verdicts(review, row.output)
    reviews = ReviewStore(store.engine)
    return await anyio.to_thread.run_sync(
        lambda: reviews.add(row.id, review.annotator, row.variant, judged, review.comment)
    )


@router.post(
    "/v1/reviews",
    status_code=201,
    dependencies=[Depends(require_json), Depends(require_admin)],
    responses=openapi.error_responses(400, 401, 403, 404, 409, 413, 415, 503, descriptions=openapi.ADMIN_503),
    openapi_extra=openapi.admin(**openapi.json_body(ReviewInput)),
)
async def post_review(request: Request, store: StoreDep) -> ReviewRecord:
    """Store a reviewer's per-field verdicts on one extraction (admin)."""
    review = await _submit(store, await read_json(request, ReviewInput, "review"))
    return ReviewRecord.model_validate(review.to_dict())


def _strategy(value: str) -> Strategy:
    if value not in STRATEGIES:
        raise bad_request(f"strategy must be one of {', '.join(STRATEGIES)}")
    return value  # type: ignore[return-value]


def _next_url(annotator: str, strategy: str, include_reviewed: bool) -> str:
    query = {"annotator": annotator, "strategy": strategy}
    if include_reviewed:
        query["include_reviewed"] = "1"
    return "/review?" + urlencode(query)


@router.post(
    "/review",
    dependencies=[Depends(require_form), Depends(require_admin)],
    status_code=303,
    response_class=RedirectResponse,
    responses={
        **openapi.redirect("Stored: on to the next item."),
        **openapi.error_responses(400, 401, 403, 404, 409, 413, 415, 503, descriptions=openapi.ADMIN_503),
    },
    openapi_extra=openapi.admin(**_review_form()),
)
async def post_review_form(request: Request, store: StoreDep) -> Response:
    """The review page's form without JavaScript: store the review, then show the next item."""
    values = await read_form(request)
    strategy = _strategy(values.get("strategy") or "uniform")
    review = await _submit(store, from_form(values))
    location = _next_url(review.annotator, strategy, values.get("include_reviewed") == "1")
    return RedirectResponse(location, status_code=303)


@router.get(
    "/review",
    response_class=HTMLResponse,
    dependencies=[Depends(require_dashboard)],
    responses={
        **openapi.redirect("A browser without a session: sent to the sign-in form."),
        **openapi.error_responses(400, 401, 403, 503, descriptions=openapi.ADMIN_503),
    },
    openapi_extra=openapi.admin(),
)
async def review_page(
    request: Request,
    config: ConfigDep,
    store: StoreDep,
    annotator: Annotated[str, Query(max_length=200, description="Who reviews (empty: the start form).")] = "",
    strategy: Annotated[str, openapi.one_of(STRATEGIES, "How the next item is chosen.")] = "uniform",
    include_reviewed: bool = False,
    skip: Annotated[str, Query(description="An extraction id to pass on before the next one.")] = "",
) -> HTMLResponse:
    """The next extraction for this annotator under the chosen sampling strategy, leased to them."""
    chosen = _strategy(strategy)
    # Serving an annotator leases an item and skipping releases one: both change the queue, so a page
    # (or <img>) from another site, which could lease every item under made-up names, is refused like a forged post.
    problem = cross_site_problem(request.headers, request.url.scheme, config.public_origin)
    if (skip or annotator.strip()) and problem:
        raise ApiError(403, "csrf", f"refused: {problem}")
    nonce = secrets.token_urlsafe(16)
    headers = {"Content-Security-Policy": f"{CSP}; script-src 'nonce-{nonce}'; connect-src 'self'"}
    context: dict[str, Any] = {
        "annotator": annotator.strip(),
        "strategy": chosen,
        "strategies": STRATEGIES,
        "include_reviewed": include_reviewed,
        "nonce": nonce,
        "row": None,
    }
    if not context["annotator"]:
        return render("review.html", headers, **context)
    queue = ReviewQueue(store.engine, config.review_lease_s)
    name = context["annotator"]
    if skip:
        await anyio.to_thread.run_sync(lambda: queue.skip(skip, name))
    found = await anyio.to_thread.run_sync(lambda: queue.next(name, chosen, include_reviewed))
    row = None
    if found is not None:
        row = await anyio.to_thread.run_sync(lambda: store.get(found))
    next_url = _next_url(name, chosen, include_reviewed)
    context |= {
        "row": row,
        "next_url": next_url,
        "skip_url": f"{next_url}&{urlencode({'skip': found or ''})}",
        "fields": [
            {
                "name": field,
                "value": (row.output or {}).get(field) if row else None,
                "final": (row.final_listing or {}).get(field) if row and row.final_listing else None,
                "corrected": bool(row and field in (row.corrected_fields or [])),
                "options": _options(field),
                "long": field in _LONG_TEXT,
            }
            for field in FIELDS
        ],
    }
    return render("review.html", headers, **context)
