"""What the rollout decision reads: per-arm aggregates over the rollout, and the policy it applies.

Both are plain frozen values, so the decision (`decision.decide`) is a pure function that the
service, the CLI, the dashboard and `scripts/simulate_rollout.py` all call the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

GUARDRAILS: tuple[str, ...] = ("error_rate", "empty_rate", "refusal_rate", "p95_latency_ms", "cost_per_request_usd")
QUALITY: tuple[str, ...] = ("thumbs_up_rate",)  # plus `correction_rate.<field>` and `review_accuracy.<field>`


def _frozen(mapping: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class ArmStats:
    """One arm's served requests over the rollout (status `invalid_image` is a client error, not served).

    `latencies_ms` holds every served request's latency; `costs_usd` every served request's cost,
    empty when the arm's model has no price. `corrections[f]` counts finals where the seller
    changed field f (out of `finals`); `review_correct[f]` / `review_total[f]` count reviewer
    judgements of field f.
    """

    requests: int = 0
    errors: int = 0
    empties: int = 0
    refusals: int = 0
    latencies_ms: tuple[float, ...] = ()
    costs_usd: tuple[float, ...] = ()
    thumbs_up: int = 0
    thumbs_rated: int = 0
    finals: int = 0
    corrections: Mapping[str, int] = field(default_factory=_frozen)
    review_correct: Mapping[str, int] = field(default_factory=_frozen)
    review_total: Mapping[str, int] = field(default_factory=_frozen)


@dataclass(frozen=True)
class AssignmentPeriod:
    """Distinct users seen in each arm while one step's share held (for the sample-ratio check)."""

    candidate_share: float
    control_users: int
    candidate_users: int


@dataclass(frozen=True)
class Snapshot:
    """Everything measured about one running rollout at one moment."""

    control: ArmStats
    candidate: ArmStats
    step_percent: float
    is_last_step: bool
    # Requests each arm served since the current step began, and how long it has run.
    control_requests_at_step: int
    candidate_requests_at_step: int
    hours_at_step: float
    periods: tuple[AssignmentPeriod, ...] = ()


@dataclass(frozen=True)
class RolloutPolicy:
    """`[tool.listingeval.rollout]`: how sure, how much worse is tolerated, how much data is enough.

    `guardrails[m]` is the largest candidate-minus-control increase of guardrail m that is
    tolerated (rates in points as fractions, latency in ms, cost in USD); a guardrail whose
    whole confidence interval lies above it is a breach. `alpha` is the chance of halting a
    candidate no worse than control on any guardrail, over the whole rollout, however often
    anyone looks. A halt needs `min_halt_requests` served requests in each arm (the intervals
    rest on the central limit theorem); an advance or ship needs `min_requests` candidate
    requests at the current step and `min_hours` at it.
    """

    alpha: float = 0.05
    min_requests: int = 200
    min_hours: float = 0.0
    min_halt_requests: int = 30
    guardrails: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {
                "error_rate": 0.0,
                "empty_rate": 0.0,
                "refusal_rate": 0.0,
                "p95_latency_ms": 1000.0,
                "cost_per_request_usd": 0.0,
            }
        )
    )
