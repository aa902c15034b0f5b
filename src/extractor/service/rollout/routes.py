"""Admin JSON for rollouts: `GET /v1/rollout` and `POST /v1/rollout/{advance|halt|ship}`."""

from __future__ import annotations

from typing import Any, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from extractor.service.api import openapi
from extractor.service.api.bodies import clean_request, read_json
from extractor.service.api.errors import ApiError
from extractor.service.deps import ConfigDep, StoreDep
from extractor.service.rollout.commands import Rollouts
from extractor.service.rollout.state import RolloutError
from extractor.service.security.auth import require_admin
from extractor.service.security.csrf import require_json

router = APIRouter(dependencies=[Depends(clean_request)])
API_BY = "admin api"
CONFLICT = (
    "The rollout cannot make this change now (none running, not at the right step, or the decision says otherwise)."
)


class RolloutChange(BaseModel):
    """Why the change is made, for the event log."""

    model_config = ConfigDict(extra="forbid")

    why: str | None = Field(default=None, max_length=1000)
    by: str | None = Field(default=None, min_length=1, max_length=200)


class MetricView(BaseModel):
    """One metric per arm, the candidate-minus-control difference and its always-valid interval."""

    control: float | None
    candidate: float | None
    diff: float | None
    ci: list[float | None] | None
    n_control: int
    n_candidate: int
    guardrail: bool
    threshold: float | None
    breached: bool


class EventView(BaseModel):
    """One change of the rollout."""

    at: str = Field(json_schema_extra={"format": "date-time"})
    kind: Literal["start", "advance", "halt", "auto_halt", "ship", "shadow"]
    by: str
    why: str
    step_percent: float | None


class DecisionView(BaseModel):
    """What the statistics say to do now, and why."""

    action: Literal["advance", "keep_running", "halt", "ship"]
    why: str


class SampleRatioView(BaseModel):
    """The chi-square check of assigned users against the intended shares."""

    chi2: float
    df: int
    p_value: float
    mismatch: bool


class RolloutView(BaseModel):
    """The latest rollout and the routing now."""

    id: str | None
    candidate: str | None
    control: str | None
    state: Literal["none", "running", "halted", "shipped"]
    step_percent: float
    steps: list[float]
    started_at: str | None
    shares: dict[str, float]
    events: list[EventView]
    metrics: dict[str, MetricView]
    decision: DecisionView | None
    sample_ratio: SampleRatioView | None
    shadow: dict[str, Any] | None


async def _status(rollouts: Rollouts) -> RolloutView:
    status = await anyio.to_thread.run_sync(rollouts.status)
    return RolloutView.model_validate(status.to_json())


@router.get(
    "/v1/rollout",
    dependencies=[Depends(require_admin)],
    responses=openapi.error_responses(400, 401, 503, descriptions=openapi.ADMIN_503),
    openapi_extra=openapi.admin(),
)
async def get_rollout(config: ConfigDep, store: StoreDep) -> RolloutView:
    """The latest rollout: step, shares, events, metrics with intervals and the decision (admin)."""
    return await _status(Rollouts(config, store.engine))


@router.post(
    "/v1/rollout/{action}",
    dependencies=[Depends(require_json), Depends(require_admin)],
    responses=openapi.error_responses(
        400, 401, 403, 409, 413, 415, 503, descriptions={409: CONFLICT, **openapi.ADMIN_503}
    ),
    openapi_extra=openapi.admin(**openapi.json_body(RolloutChange)),
)
async def change_rollout(
    action: Literal["advance", "halt", "ship"], request: Request, config: ConfigDep, store: StoreDep
) -> RolloutView:
    """Advance, halt or ship the running rollout (admin); answers the new status."""
    change = await read_json(request, RolloutChange, "change")
    rollouts = Rollouts(config, store.engine)
    by = change.by or API_BY
    try:
        await anyio.to_thread.run_sync(lambda: getattr(rollouts, action)(by, change.why or ""))
    except RolloutError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return await _status(rollouts)
