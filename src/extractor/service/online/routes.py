"""`/dashboard/online`: pass rates per check and variant over time, judge verdicts and spend, recent failures."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request
from extractor.service.dashboard import charts
from extractor.service.dashboard.pages import render
from extractor.service.dashboard.stats import WINDOWS, check_window
from extractor.service.deps import ConfigDep, StoreDep
from extractor.service.online.stats import collect_online
from extractor.service.security.auth import require_dashboard

router = APIRouter(
    prefix="/dashboard",
    dependencies=[Depends(require_dashboard), Depends(clean_request)],
    responses={
        **openapi.redirect("A browser without a session: sent to the sign-in form."),
        **openapi.error_responses(400, 401, 503, descriptions=openapi.ADMIN_503),
    },
)


@router.get("/online", response_class=HTMLResponse, openapi_extra=openapi.admin())
async def online_page(
    config: ConfigDep,
    store: StoreDep,
    window: Annotated[str, openapi.one_of(WINDOWS, "The time window of the figures.")] = "24h",
) -> HTMLResponse:
    """Online checks and the sampled judge: pass rates per check and variant over the window."""
    check_window(window)
    engine = store.engine
    stats = await anyio.to_thread.run_sync(lambda: collect_online(engine, window))
    charted = [
        (s, charts.request_bars(s.series, f"results over time of {s.check} for {s.variant}", "results"))
        for s in (*stats.checks, *stats.judges)
    ]
    return render(
        "online.html",
        stats=stats,
        charted=charted,
        settings=config.online,
        window=window,
        windows=list(WINDOWS),
    )
