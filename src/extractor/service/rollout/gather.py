"""The rollout's rows aggregated per arm: what `decision.decide` reads, from either database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from extractor.service.rollout.snapshot import ArmStats, AssignmentPeriod, Snapshot
from extractor.service.rollout.state import Event, Rollout
from extractor.service.storage.records import as_utc, utcnow
from extractor.service.storage.tables import extractions, reviews

# Statuses of a request the service answered with the model's work; `invalid_image` is the
# client's error and `pending` is not finished. A `lost` row (the process died) counts as an error.
SERVED = ("ok", "empty", "error", "refusal", "lost")


Prices = Mapping[str, Mapping[str, float]]


def request_cost(prices: Prices, model: str, input_tokens: int | None, output_tokens: int | None) -> float | None:
    """The request's cost in USD from `[tool.listingeval.prices."<model>"]` (None without a price)."""
    price = prices.get(model)
    if price is None:
        return None
    per_input, per_output = price.get("input_per_mtok", 0.0), price.get("output_per_mtok", 0.0)
    return ((input_tokens or 0) * per_input + (output_tokens or 0) * per_output) / 1e6


class _Arm:
    """Running totals of one arm while the rows are read."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.costs: list[float] = []
        self.priced = True
        self.thumbs_up = 0
        self.thumbs_rated = 0
        self.finals = 0
        self.corrections: Counter[str] = Counter()
        self.review_correct: Counter[str] = Counter()
        self.review_total: Counter[str] = Counter()
        self.at_step = 0

    def frozen(self) -> ArmStats:
        served = sum(self.statuses.values())
        return ArmStats(
            requests=served,
            errors=self.statuses["error"] + self.statuses["lost"],
            empties=self.statuses["empty"],
            refusals=self.statuses["refusal"],
            latencies_ms=tuple(self.latencies),
            costs_usd=tuple(self.costs) if self.priced else (),
            thumbs_up=self.thumbs_up,
            thumbs_rated=self.thumbs_rated,
            finals=self.finals,
            corrections=dict(self.corrections),
            review_correct=dict(self.review_correct),
            review_total=dict(self.review_total),
        )


def gather(engine: Engine, prices: Prices, rollout: Rollout, events: Sequence[Event]) -> Snapshot:
    """Per-arm aggregates of the rows the rollout split, its current step and its assignment periods."""
    columns = (
        extractions.c.id,
        extractions.c.variant,
        extractions.c.user_id,
        extractions.c.created_at,
        extractions.c.status,
        extractions.c.model,
        extractions.c.latency_ms,
        extractions.c.input_tokens,
        extractions.c.output_tokens,
        extractions.c.rating,
        extractions.c.finalized_at,
        extractions.c.corrected_fields,
    )
    mine = extractions.c.rollout_id == rollout.id
    with engine.connect() as conn:
        rows = conn.execute(select(*columns).where(mine)).all()
        latest_review = {
            r.extraction_id: r.fields or {}
            for r in conn.execute(
                select(reviews.c.extraction_id, reviews.c.fields)
                .join(extractions, extractions.c.id == reviews.c.extraction_id)
                .where(mine)
                .order_by(reviews.c.created_at, reviews.c.id)
            )
        }
    arms = {rollout.control: _Arm(), rollout.candidate: _Arm()}
    step_started = rollout.step_started_at
    for row in rows:
        arm = arms.get(row.variant)
        if arm is None or row.status not in SERVED:
            continue
        _add(arm, row, latest_review.get(row.id), prices)
        arm.at_step += as_utc(row.created_at) >= step_started
    control, candidate = arms[rollout.control], arms[rollout.candidate]
    end = rollout.ended_at or utcnow()
    return Snapshot(
        control=control.frozen(),
        candidate=candidate.frozen(),
        step_percent=rollout.step_percent,
        is_last_step=rollout.is_last_step,
        control_requests_at_step=control.at_step,
        candidate_requests_at_step=candidate.at_step,
        hours_at_step=max(0.0, (end - step_started).total_seconds() / 3600),
        periods=periods(rows, rollout, events),
    )


def _add(arm: _Arm, row: Any, review: Mapping[str, Any] | None, prices: Prices) -> None:
    arm.statuses[row.status] += 1
    if row.latency_ms is not None:
        arm.latencies.append(float(row.latency_ms))
    cost = request_cost(prices, row.model, row.input_tokens, row.output_tokens)
    if cost is None:
        arm.priced = False
    else:
        arm.costs.append(cost)
    if row.rating is not None:
        arm.thumbs_rated += 1
        arm.thumbs_up += row.rating == "up"
    if row.finalized_at is not None:
        arm.finals += 1
        arm.corrections.update(row.corrected_fields or [])
    for name, verdict in (review or {}).items():
        if isinstance(verdict, Mapping):
            arm.review_total[name] += 1
            arm.review_correct[name] += bool(verdict.get("correct"))


def periods(rows: Sequence[Any], rollout: Rollout, events: Sequence[Event]) -> tuple[AssignmentPeriod, ...]:
    """Distinct users per arm within each step (a user seen at two steps counts in both)."""
    bounds: list[tuple[datetime, float]] = [
        (as_utc(e.at), e.step_percent) for e in events if e.kind in ("start", "advance") and e.step_percent is not None
    ]
    if not bounds:
        bounds = [(rollout.started_at, rollout.steps[0])]
    seen: list[tuple[set[str], set[str]]] = [(set(), set()) for _ in bounds]
    for row in rows:
        at = as_utc(row.created_at)
        index = max((i for i, (start, _) in enumerate(bounds) if at >= start), default=0)
        if row.variant == rollout.control:
            seen[index][0].add(row.user_id)
        elif row.variant == rollout.candidate:
            seen[index][1].add(row.user_id)
    return tuple(
        AssignmentPeriod(candidate_share=step / 100, control_users=len(c), candidate_users=len(k))
        for (_, step), (c, k) in zip(bounds, seen, strict=True)
    )
