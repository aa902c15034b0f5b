"""The rollout decision: one snapshot and the policy to halt, keep running, advance or ship, and why.

Guardrails are tested with always-valid intervals (`sequential.py`) at alpha divided by the
number of guardrails that can be evaluated (Bonferroni), so the chance that a candidate no
worse than control is ever halted stays at most alpha however often anyone looks. Quality
metrics are reported with intervals at plain alpha and never halt. `docs/rollout-statistics.md`
explains the method and its assumptions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from extractor.service.rollout.sequential import (
    chi2_sf,
    difference_cs,
    empirical_quantile,
    mean_sample,
    quantile_difference_cs,
    rate_sample,
    sample_ratio_chi2,
)
from extractor.service.rollout.snapshot import GUARDRAILS, ArmStats, AssignmentPeriod, RolloutPolicy, Snapshot

Action = Literal["advance", "keep_running", "halt", "ship"]

# A sample-ratio p-value below this is reported as a mismatch (assignment or logging is broken).
SRM_P_VALUE = 0.001
LATENCY_QUANTILE = 0.95
_COST = "cost_per_request_usd"
_LATENCY = "p95_latency_ms"


@dataclass(frozen=True)
class MetricComparison:
    """One metric in both arms: values, candidate-minus-control difference and its always-valid interval.

    Values are None while an arm has no data for the metric; `ci` is None until each arm has
    two observations, and a side of it is -inf or +inf while the data cannot bound it yet
    (latency). `n_*` count each arm's denominator (served requests, ratings, finals, reviews).
    """

    name: str
    control: float | None
    candidate: float | None
    diff: float | None
    ci: tuple[float, float] | None
    n_control: int
    n_candidate: int
    guardrail: bool
    threshold: float | None
    breached: bool


@dataclass(frozen=True)
class SampleRatio:
    """Users per arm against the intended shares: a mismatch means the comparison cannot be trusted."""

    chi2: float
    df: int
    p_value: float
    mismatch: bool


@dataclass(frozen=True)
class Decision:
    """What to do with the candidate now, why in plain words, and every comparison it rests on."""

    action: Action
    why: str
    metrics: tuple[MetricComparison, ...]
    breaches: tuple[str, ...]
    sample_ratio: SampleRatio | None

    def metric(self, name: str) -> MetricComparison:
        """The comparison of metric `name`; KeyError when there is none."""
        for comparison in self.metrics:
            if comparison.name == name:
                return comparison
        raise KeyError(name)


def decide(snapshot: Snapshot, policy: RolloutPolicy) -> Decision:
    """Halt on any breached guardrail; else keep running until the step has enough data, then advance or ship."""
    control, candidate = snapshot.control, snapshot.candidate
    priced = bool(control.costs_usd) and bool(candidate.costs_usd)
    thresholds = {name: policy.guardrails.get(name) for name in GUARDRAILS}
    tested = [name for name in GUARDRAILS if thresholds[name] is not None and (name != _COST or priced)]
    guardrail_alpha = policy.alpha / max(1, len(tested))
    can_halt = min(control.requests, candidate.requests) >= policy.min_halt_requests
    metrics = (
        *_guardrails(control, candidate, thresholds, guardrail_alpha, can_halt=can_halt),
        *_quality(control, candidate, policy.alpha),
    )
    breached = tuple(m for m in metrics if m.breached)
    sample_ratio = _sample_ratio(snapshot.periods)
    action, why = _action(snapshot, policy, breached, can_halt=can_halt)
    if sample_ratio is not None and sample_ratio.mismatch:
        why += (
            " Sample-ratio mismatch: the users per arm do not match the intended split "
            f"(chi-square {sample_ratio.chi2:.1f}, df {sample_ratio.df}, p = {sample_ratio.p_value:.2g}); "
            "check the assignment before trusting these figures."
        )
    return Decision(
        action=action,
        why=why,
        metrics=metrics,
        breaches=tuple(m.name for m in breached),
        sample_ratio=sample_ratio,
    )


def _guardrails(
    control: ArmStats,
    candidate: ArmStats,
    thresholds: Mapping[str, float | None],
    alpha: float,
    *,
    can_halt: bool,
) -> tuple[MetricComparison, ...]:
    counts = {
        "error_rate": (control.errors, candidate.errors),
        "empty_rate": (control.empties, candidate.empties),
        "refusal_rate": (control.refusals, candidate.refusals),
    }
    rates = tuple(
        _rate(name, c, control.requests, t, candidate.requests, alpha, thresholds[name], can_halt=can_halt)
        for name, (c, t) in counts.items()
    )
    return (
        *rates,
        _latency(control, candidate, alpha, thresholds[_LATENCY], can_halt=can_halt),
        _cost(control, candidate, alpha, thresholds[_COST], can_halt=can_halt),
    )


def _quality(control: ArmStats, candidate: ArmStats, alpha: float) -> tuple[MetricComparison, ...]:
    thumbs = _rate(
        "thumbs_up_rate", control.thumbs_up, control.thumbs_rated, candidate.thumbs_up, candidate.thumbs_rated, alpha
    )
    corrections = tuple(
        _rate(
            f"correction_rate.{field}",
            control.corrections.get(field, 0),
            control.finals,
            candidate.corrections.get(field, 0),
            candidate.finals,
            alpha,
        )
        for field in sorted({*control.corrections, *candidate.corrections})
    )
    reviews = tuple(
        _rate(
            f"review_accuracy.{field}",
            control.review_correct.get(field, 0),
            control.review_total.get(field, 0),
            candidate.review_correct.get(field, 0),
            candidate.review_total.get(field, 0),
            alpha,
        )
        for field in sorted({*control.review_total, *candidate.review_total})
    )
    return (thumbs, *corrections, *reviews)


def _rate(
    name: str,
    control_hits: int,
    control_n: int,
    candidate_hits: int,
    candidate_n: int,
    alpha: float,
    threshold: float | None = None,
    *,
    can_halt: bool = False,
) -> MetricComparison:
    ci = None
    if control_n and candidate_n:
        ci = difference_cs(rate_sample(control_hits, control_n), rate_sample(candidate_hits, candidate_n), alpha)
    return _comparison(
        name,
        control_hits / control_n if control_n else None,
        candidate_hits / candidate_n if candidate_n else None,
        ci,
        (control_n, candidate_n),
        threshold,
        guardrail=name in GUARDRAILS,
        can_halt=can_halt,
    )


def _latency(
    control: ArmStats, candidate: ArmStats, alpha: float, threshold: float | None, *, can_halt: bool
) -> MetricComparison:
    ordered_control = sorted(control.latencies_ms)
    ordered_candidate = sorted(candidate.latencies_ms)
    ci = None
    if ordered_control and ordered_candidate:
        ci = quantile_difference_cs(ordered_control, ordered_candidate, LATENCY_QUANTILE, alpha)
    return _comparison(
        _LATENCY,
        empirical_quantile(ordered_control, LATENCY_QUANTILE) if ordered_control else None,
        empirical_quantile(ordered_candidate, LATENCY_QUANTILE) if ordered_candidate else None,
        ci,
        (len(ordered_control), len(ordered_candidate)),
        threshold,
        guardrail=True,
        can_halt=can_halt,
    )


def _cost(
    control: ArmStats, candidate: ArmStats, alpha: float, threshold: float | None, *, can_halt: bool
) -> MetricComparison:
    counts = (len(control.costs_usd), len(candidate.costs_usd))
    if not (control.costs_usd and candidate.costs_usd):
        # One arm's model has no price: nothing to compare.
        return _comparison(_COST, None, None, None, counts, threshold, guardrail=True, can_halt=False)
    control_sample, candidate_sample = mean_sample(control.costs_usd), mean_sample(candidate.costs_usd)
    return _comparison(
        _COST,
        control_sample.mean,
        candidate_sample.mean,
        difference_cs(control_sample, candidate_sample, alpha),
        counts,
        threshold,
        guardrail=True,
        can_halt=can_halt,
    )


def _comparison(
    name: str,
    control: float | None,
    candidate: float | None,
    ci: tuple[float, float] | None,
    counts: tuple[int, int],
    threshold: float | None,
    *,
    guardrail: bool,
    can_halt: bool,
) -> MetricComparison:
    diff = None if control is None or candidate is None else candidate - control
    breached = can_halt and threshold is not None and ci is not None and ci[0] > threshold
    return MetricComparison(
        name=name,
        control=control,
        candidate=candidate,
        diff=diff,
        ci=ci,
        n_control=counts[0],
        n_candidate=counts[1],
        guardrail=guardrail,
        threshold=threshold,
        breached=breached,
    )


def _sample_ratio(periods: tuple[AssignmentPeriod, ...]) -> SampleRatio | None:
    chi2, df = sample_ratio_chi2(periods)
    if df == 0:
        return None
    p_value = chi2_sf(chi2, df)
    return SampleRatio(chi2=chi2, df=df, p_value=p_value, mismatch=p_value < SRM_P_VALUE)


def _action(
    snapshot: Snapshot, policy: RolloutPolicy, breached: tuple[MetricComparison, ...], *, can_halt: bool
) -> tuple[Action, str]:
    if breached:
        return "halt", "halt: " + "; ".join(_breach_text(m) for m in breached) + "."
    step = f"{snapshot.step_percent:g}%"
    verdict = (
        "no guardrail is worse with confidence"
        if can_halt
        else f"the guardrails are not judged yet (each arm needs {policy.min_halt_requests} requests)"
    )
    missing_requests = max(0, policy.min_requests - snapshot.candidate_requests_at_step)
    missing_hours = max(0.0, policy.min_hours - snapshot.hours_at_step)
    if missing_requests or missing_hours:
        needs = []
        if missing_requests:
            needs.append(
                f"{missing_requests} more candidate requests "
                f"({snapshot.candidate_requests_at_step} of {policy.min_requests})"
            )
        if missing_hours:
            needs.append(f"{missing_hours:.1f} more hours ({snapshot.hours_at_step:.1f} of {policy.min_hours:g})")
        goal = "ship" if snapshot.is_last_step else "advance"
        return (
            "keep_running",
            f"keep running at the {step} step: {' and '.join(needs)} before it can {goal}; {verdict}.",
        )
    ran = f"{snapshot.candidate_requests_at_step} candidate requests and {snapshot.hours_at_step:.1f} hours"
    if snapshot.is_last_step:
        return "ship", f"ship: the last step ({step}) ran {ran}, and {verdict}."
    return "advance", f"advance from the {step} step: it ran {ran}, and {verdict}."


def _breach_text(metric: MetricComparison) -> str:
    assert metric.control is not None and metric.candidate is not None and metric.diff is not None
    assert metric.ci is not None and metric.threshold is not None
    name = metric.name
    low, high = metric.ci
    return (
        f"{name} is worse with confidence: candidate {_value(name, metric.candidate)} "
        f"vs control {_value(name, metric.control)}, a change of {_delta(name, metric.diff)} "
        f"(interval {_interval(name, low, high)}), "
        f"more than the {_delta(name, metric.threshold)} tolerated"
    )


def _interval(name: str, low: float, high: float) -> str:
    """Both ends with one unit, after the upper end or after the lower when the upper is open."""
    if math.isinf(high):
        return f"{_delta(name, low)} to unbounded"
    return f"{_signed(name, low)} to {_delta(name, high)}"


def _value(name: str, value: float) -> str:
    if name == _LATENCY:
        return f"{value:.0f} ms"
    if name == _COST:
        return f"${value:.4g}"
    return f"{100.0 * value:.2f}%"


def _signed(name: str, value: float) -> str:
    """A signed difference without its unit; an open side of an interval is `unbounded`."""
    if math.isinf(value):
        return "unbounded"
    if name == _LATENCY:
        return f"{value:+.0f}"
    if name == _COST:
        return f"{'-' if value < 0 else '+'}${abs(value):.4g}"
    return f"{100.0 * value:+.2f}"


def _delta(name: str, value: float) -> str:
    """A signed difference with its unit: ms, dollars or (rate) points."""
    number = _signed(name, value)
    if math.isinf(value) or name == _COST:
        return number
    return f"{number} ms" if name == _LATENCY else f"{number} points"
