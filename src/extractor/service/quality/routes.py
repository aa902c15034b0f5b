"""The quality page: ground-truth accuracy per field, variant and time bucket, and drift per field."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request
from extractor.service.dashboard.pages import render
from extractor.service.dashboard.stats import WINDOWS, check_window, window_start
from extractor.service.deps import ConfigDep, StoreDep
from extractor.service.extraction.corrections import FIELDS
from extractor.service.quality.charts import accuracy_chart
from extractor.service.quality.drift import ALERT_PSI, measure
from extractor.service.quality.truth import SOURCES, collect_truth
from extractor.service.security.auth import require_dashboard
from extractor.service.storage.records import as_utc, utcnow

router = APIRouter(
    prefix="/dashboard",
    dependencies=[Depends(require_dashboard), Depends(clean_request)],
    responses={
        **openapi.redirect("A browser without a session: sent to the sign-in form."),
        **openapi.error_responses(400, 401, 503, descriptions=openapi.ADMIN_503),
    },
)
# How many of a field's most shifted values the page lists.
TOP_SHIFTS = 3


@router.get("/quality", response_class=HTMLResponse, openapi_extra=openapi.admin())
async def quality(
    config: ConfigDep,
    store: StoreDep,
    window: Annotated[str, openapi.one_of(WINDOWS, "The time window of the ground-truth figures.")] = "24h",
) -> HTMLResponse:
    """Accuracy from published listings and reviews per field, variant and time, and drift per field."""
    check_window(window)
    engine = store.engine
    now = utcnow()
    names = [v.name for v in config.variants]
    truth = await anyio.to_thread.run_sync(lambda: collect_truth(engine, window_start(window, now), now, names))
    drift = await anyio.to_thread.run_sync(lambda: measure(engine, config.drift, now))
    charts = {
        (t.variant, name): accuracy_chart(
            [(source, [b.truth[source][name] for b in t.buckets]) for source in SOURCES],
            f"accuracy of {name} over time for {t.variant}",
        )
        for t in truth
        for name in FIELDS
    }
    return render(
        "quality.html",
        window=window,
        windows=list(WINDOWS),
        truth=truth,
        charts=charts,
        fields=FIELDS,
        sources=SOURCES,
        drift=drift,
        settings=config.drift,
        alert_psi=ALERT_PSI,
        top=TOP_SHIFTS,
        stamp=lambda moment: as_utc(moment).strftime("%m-%d %H:%M UTC"),
    )
