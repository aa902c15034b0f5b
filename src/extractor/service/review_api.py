"""Human review: the annotator page (`/review`) and the reviews API (`POST /v1/reviews`)."""

from __future__ import annotations

import secrets
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from extractor.schema import Listing
from extractor.service.auth import require_admin, require_dashboard
from extractor.service.bodies import clean_request, read_form, read_json
from extractor.service.csrf import cross_site_problem, require_form, require_json
from extractor.service.diff import FIELDS
from extractor.service.errors import ApiError
from extractor.service.logs import annotate
from extractor.service.pages import CSP, render
from extractor.service.review_input import ReviewInput, bad_request, from_form, verdicts
from extractor.service.review_queue import STRATEGIES, ReviewQueue, Strategy
from extractor.service.review_store import Review, ReviewStore
from extractor.service.store import Store

router = APIRouter(dependencies=[Depends(clean_request)])
_LONG_TEXT = {"description"}


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _queue(request: Request) -> ReviewQueue:
    return ReviewQueue(_store(request).engine, request.app.state.config.review_lease_s)


def _options(name: str) -> list[str]:
    annotation = Listing.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return []


async def _submit(request: Request, review: ReviewInput) -> Review:
    """Validate a review against its extraction's output and store it (releasing the lease)."""
    store = _store(request)
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


@router.post("/v1/reviews", status_code=201, dependencies=[Depends(require_json), Depends(require_admin)])
async def post_review(request: Request) -> JSONResponse:
    """Store a reviewer's per-field verdicts on one extraction (admin)."""
    review = await _submit(request, await read_json(request, ReviewInput, "review"))
    return JSONResponse(review.to_dict(), status_code=201)


def _strategy(value: str) -> Strategy:
    if value not in STRATEGIES:
        raise bad_request(f"strategy must be one of {', '.join(STRATEGIES)}")
    return value  # type: ignore[return-value]


def _next_url(annotator: str, strategy: str, include_reviewed: bool) -> str:
    query = {"annotator": annotator, "strategy": strategy}
    if include_reviewed:
        query["include_reviewed"] = "1"
    return "/review?" + urlencode(query)


@router.post("/review", dependencies=[Depends(require_form), Depends(require_admin)])
async def post_review_form(request: Request) -> Response:
    """The review page's form without JavaScript: store the review, then show the next item."""
    values = await read_form(request)
    strategy = _strategy(values.get("strategy") or "uniform")
    review = await _submit(request, from_form(values))
    location = _next_url(review.annotator, strategy, values.get("include_reviewed") == "1")
    return RedirectResponse(location, status_code=303)


@router.get("/review", response_class=HTMLResponse, dependencies=[Depends(require_dashboard)])
async def review_page(
    request: Request,
    annotator: Annotated[str, Query(max_length=200)] = "",
    strategy: str = "uniform",
    include_reviewed: bool = False,
    skip: str = "",
) -> HTMLResponse:
    """The next extraction for this annotator under the chosen sampling strategy, leased to them."""
    chosen = _strategy(strategy)
    # Skipping changes the queue, so a skip link followed from another site is refused like a forged post.
    problem = cross_site_problem(request.headers, request.url.scheme, request.app.state.config.public_origin)
    if skip and problem:
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
    queue = _queue(request)
    name = context["annotator"]
    if skip:
        await anyio.to_thread.run_sync(lambda: queue.skip(skip, name))
    found = await anyio.to_thread.run_sync(lambda: queue.next(name, chosen, include_reviewed))
    row = None
    if found is not None:
        store = _store(request)
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
