"""The rollout decision: each action, its reasons, the Bonferroni split and the reported metrics."""

from __future__ import annotations

import dataclasses
import math
import random
from types import MappingProxyType

import pytest

from extractor.service.rollout.decision import Decision, MetricComparison, SampleRatio, decide
from extractor.service.rollout.sequential import (
    difference_cs,
    mean_sample,
    quantile_difference_cs,
    rate_sample,
)
from extractor.service.rollout.snapshot import GUARDRAILS, ArmStats, AssignmentPeriod, RolloutPolicy, Snapshot

pytestmark = pytest.mark.unit


def _latencies(n: int, median_ms: float, seed: int) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(rng.lognormvariate(math.log(median_ms), 0.3) for _ in range(n))


def _arm(
    requests: int = 1000,
    errors: int = 20,
    *,
    median_ms: float = 1500.0,
    costs: tuple[float, ...] = (),
    seed: int = 0,
    **more: object,
) -> ArmStats:
    return ArmStats(
        requests=requests,
        errors=errors,
        empties=requests // 50,
        refusals=requests // 100,
        latencies_ms=_latencies(requests, median_ms, seed),
        costs_usd=costs,
        **more,  # type: ignore[arg-type]
    )


def _snapshot(
    control: ArmStats,
    candidate: ArmStats,
    *,
    step: float = 25.0,
    last: bool = False,
    at_step: int = 500,
    hours: float = 3.0,
    periods: tuple[AssignmentPeriod, ...] = (),
) -> Snapshot:
    return Snapshot(
        control=control,
        candidate=candidate,
        step_percent=step,
        is_last_step=last,
        control_requests_at_step=3 * at_step,
        candidate_requests_at_step=at_step,
        hours_at_step=hours,
        periods=periods,
    )


POLICY = RolloutPolicy(min_requests=200, min_hours=1.0)


# --- actions ------------------------------------------------------------------------------


def test_an_equal_candidate_advances_and_says_why() -> None:
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2)), POLICY)
    assert decision.action == "advance"
    assert decision.breaches == ()
    assert decision.why == (
        "advance from the 25% step: it ran 500 candidate requests and 3.0 hours, "
        "and no guardrail is worse with confidence."
    )


def test_the_last_step_ships() -> None:
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2), step=100.0, last=True), POLICY)
    assert decision.action == "ship"
    assert decision.why.startswith("ship: the last step (100%) ran 500 candidate requests and 3.0 hours")


def test_too_little_data_at_the_step_keeps_running_and_says_how_much_more() -> None:
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2), at_step=80, hours=0.25), POLICY)
    assert decision.action == "keep_running"
    assert decision.why == (
        "keep running at the 25% step: 120 more candidate requests (80 of 200) and 0.8 more hours "
        "(0.2 of 1) before it can advance; no guardrail is worse with confidence."
    )
    hours_only = decide(_snapshot(_arm(seed=1), _arm(seed=2), step=100.0, last=True, hours=0.5), POLICY)
    assert hours_only.action == "keep_running"
    assert "0.5 more hours" in hours_only.why
    assert "candidate requests" not in hours_only.why
    assert "before it can ship" in hours_only.why


def test_guardrails_are_not_judged_before_each_arm_has_min_halt_requests() -> None:
    control, candidate = _arm(29, 0, seed=1), _arm(29, 29, seed=2)  # every candidate request failed
    decision = decide(_snapshot(control, candidate, at_step=29), POLICY)
    assert decision.action == "keep_running"
    assert decision.metric("error_rate").breached is False
    assert "the guardrails are not judged yet (each arm needs 30 requests)" in decision.why
    # One more request each and the same evidence halts.
    assert decide(_snapshot(_arm(30, 0, seed=1), _arm(30, 30, seed=2)), POLICY).action == "halt"


def test_more_errors_halts_and_names_the_guardrail_in_plain_words() -> None:
    decision = decide(_snapshot(_arm(2000, 40, seed=1), _arm(1000, 120, seed=2)), POLICY)
    assert decision.action == "halt"
    assert decision.breaches == ("error_rate",)
    error = decision.metric("error_rate")
    assert error.breached and error.ci is not None and error.ci[0] > 0.0
    low, high = error.ci
    assert decision.why == (
        "halt: error_rate is worse with confidence: candidate 12.00% vs control 2.00%, a change of "
        f"+10.00 points (interval {100 * low:+.2f} to {100 * high:+.2f} points), "
        "more than the +0.00 points tolerated."
    )


def test_a_halt_overrides_missing_data_at_the_step() -> None:
    decision = decide(_snapshot(_arm(2000, 40, seed=1), _arm(1000, 120, seed=2), at_step=10, hours=0.0), POLICY)
    assert decision.action == "halt"


def test_every_breached_guardrail_is_named() -> None:
    # Bounding control's p95 from above at alpha/8 takes about 3,600 requests.
    control = _arm(8000, 80, median_ms=1000.0, seed=1)
    candidate = _arm(8000, 800, median_ms=4000.0, seed=2)
    decision = decide(_snapshot(control, candidate), POLICY)
    assert decision.breaches == ("error_rate", "p95_latency_ms")
    assert "error_rate is worse with confidence" in decision.why
    assert "; p95_latency_ms is worse with confidence: candidate " in decision.why
    assert "ms, a change of +" in decision.why
    assert decision.why.endswith("more than the +1000 ms tolerated.")


def test_an_open_side_of_the_interval_reads_unbounded() -> None:
    # Too few candidate requests to bound its p95 from above, enough to see it is far higher.
    control = _arm(8000, 80, median_ms=1000.0, seed=1)
    candidate = _arm(400, 4, median_ms=6000.0, seed=2)
    decision = decide(_snapshot(control, candidate), POLICY)
    latency = decision.metric("p95_latency_ms")
    assert latency.breached and latency.ci is not None and latency.ci[1] == math.inf
    assert f"(interval {latency.ci[0]:+.0f} ms to unbounded), more than the +1000 ms tolerated." in decision.why


def test_a_worse_candidate_within_the_tolerance_is_not_a_breach() -> None:
    control = _arm(8000, 80, median_ms=1000.0, seed=1)
    candidate = _arm(8000, 80, median_ms=1300.0, seed=2)  # p95 about 490 ms higher: under 1000 ms
    decision = decide(_snapshot(control, candidate), POLICY)
    latency = decision.metric("p95_latency_ms")
    assert latency.diff is not None and 300.0 < latency.diff < 700.0
    assert latency.ci is not None and latency.ci[0] > 0.0  # surely worse, but by less than tolerated
    assert not latency.breached
    assert decision.action == "advance"
    strict = RolloutPolicy(min_requests=200, guardrails=MappingProxyType({**POLICY.guardrails, "p95_latency_ms": 0.0}))
    assert decide(_snapshot(control, candidate), strict).breaches == ("p95_latency_ms",)


def test_a_better_candidate_is_never_halted() -> None:
    decision = decide(_snapshot(_arm(3000, 300, seed=1), _arm(3000, 30, seed=2)), POLICY)
    assert decision.action == "advance"
    error = decision.metric("error_rate")
    assert error.ci is not None and error.ci[1] < 0.0


# --- Bonferroni ---------------------------------------------------------------------------


def _error_ci(decision: Decision, control: ArmStats, candidate: ArmStats, tests: int) -> None:
    expected = difference_cs(
        rate_sample(control.errors, control.requests), rate_sample(candidate.errors, candidate.requests), 0.05 / tests
    )
    assert decision.metric("error_rate").ci == expected


def test_each_guardrail_gets_alpha_over_the_guardrails_that_can_be_evaluated() -> None:
    control, candidate = _arm(seed=1), _arm(1000, 35, seed=2)
    # No prices: four guardrails.
    _error_ci(decide(_snapshot(control, candidate), POLICY), control, candidate, 4)
    # Both arms priced: five.
    priced_control = dataclasses.replace(control, costs_usd=(0.002, 0.003) * 500)
    priced_candidate = dataclasses.replace(candidate, costs_usd=(0.002, 0.004) * 500)
    _error_ci(decide(_snapshot(priced_control, priced_candidate), POLICY), control, candidate, 5)
    # Only one arm priced: cost cannot be compared, four again.
    _error_ci(decide(_snapshot(priced_control, candidate), POLICY), control, candidate, 4)
    # A guardrail the policy leaves out is not tested.
    without_latency = RolloutPolicy(
        guardrails=MappingProxyType({k: v for k, v in POLICY.guardrails.items() if k != "p95_latency_ms"})
    )
    decision = decide(_snapshot(control, candidate), without_latency)
    _error_ci(decision, control, candidate, 3)
    assert decision.metric("p95_latency_ms").threshold is None


def test_the_latency_interval_uses_the_guardrail_alpha_split_over_both_arms() -> None:
    control, candidate = _arm(4000, seed=1), _arm(4000, seed=2)
    latency = decide(_snapshot(control, candidate), POLICY).metric("p95_latency_ms")
    assert latency.ci == quantile_difference_cs(
        sorted(control.latencies_ms), sorted(candidate.latencies_ms), 0.95, 0.05 / 4
    )
    assert latency.n_control == latency.n_candidate == 4000


def test_a_short_arm_leaves_the_latency_interval_open() -> None:
    latency = decide(_snapshot(_arm(100, 2, seed=1), _arm(100, 2, seed=2)), POLICY).metric("p95_latency_ms")
    assert latency.control is not None and latency.candidate is not None
    assert latency.ci == (-math.inf, math.inf)
    assert not latency.breached


# --- cost ---------------------------------------------------------------------------------


def test_cost_is_compared_only_when_both_arms_are_priced() -> None:
    unpriced = decide(_snapshot(_arm(costs=(0.002,) * 1000, seed=1), _arm(seed=2)), POLICY).metric(
        "cost_per_request_usd"
    )
    assert unpriced == MetricComparison(
        name="cost_per_request_usd",
        control=None,
        candidate=None,
        diff=None,
        ci=None,
        n_control=1000,
        n_candidate=0,
        guardrail=True,
        threshold=0.0,
        breached=False,
    )


def test_a_dearer_candidate_halts_on_cost() -> None:
    rng = random.Random(5)
    control_costs = tuple(rng.uniform(0.001, 0.003) for _ in range(1000))
    candidate_costs = tuple(rng.uniform(0.002, 0.004) for _ in range(1000))
    decision = decide(
        _snapshot(_arm(costs=control_costs, seed=1), _arm(costs=candidate_costs, seed=2)),
        POLICY,
    )
    cost = decision.metric("cost_per_request_usd")
    assert cost.ci == difference_cs(mean_sample(control_costs), mean_sample(candidate_costs), 0.05 / 5)
    assert decision.breaches == ("cost_per_request_usd",)
    assert "cost_per_request_usd is worse with confidence: candidate $0.00" in decision.why
    assert "more than the +$0 tolerated." in decision.why


# --- quality ------------------------------------------------------------------------------


def test_quality_is_reported_at_plain_alpha_and_never_halts() -> None:
    control = _arm(
        seed=1,
        thumbs_up=90,
        thumbs_rated=100,
        finals=400,
        corrections=MappingProxyType({"title": 40}),
        review_correct=MappingProxyType({"brand": 95}),
        review_total=MappingProxyType({"brand": 100}),
    )
    candidate = _arm(
        seed=2,
        thumbs_up=20,
        thumbs_rated=100,
        finals=400,
        corrections=MappingProxyType({"title": 300, "color": 10}),
        review_correct=MappingProxyType({"brand": 10}),
        review_total=MappingProxyType({"brand": 100, "color": 5}),
    )
    decision = decide(_snapshot(control, candidate), POLICY)
    assert decision.action == "advance"
    names = [m.name for m in decision.metrics]
    assert names == [
        *GUARDRAILS,
        "thumbs_up_rate",
        "correction_rate.color",
        "correction_rate.title",
        "review_accuracy.brand",
        "review_accuracy.color",
    ]
    thumbs = decision.metric("thumbs_up_rate")
    assert (thumbs.control, thumbs.candidate, thumbs.n_control, thumbs.n_candidate) == (0.9, 0.2, 100, 100)
    assert thumbs.ci == difference_cs(rate_sample(90, 100), rate_sample(20, 100), 0.05)
    assert thumbs.ci is not None and thumbs.ci[1] < 0.0  # far worse, and still no halt
    title = decision.metric("correction_rate.title")
    assert (title.control, title.candidate) == (0.1, 0.75)
    assert title.diff == pytest.approx(0.65)
    color = decision.metric("correction_rate.color")
    assert (color.control, color.candidate) == (0.0, 0.025)
    review_color = decision.metric("review_accuracy.color")
    assert (review_color.control, review_color.candidate, review_color.ci) == (None, 0.0, None)
    for quality in decision.metrics[len(GUARDRAILS) :]:
        assert (quality.guardrail, quality.threshold, quality.breached) == (False, None, False)


def test_no_feedback_yet_reports_none() -> None:
    thumbs = decide(_snapshot(_arm(seed=1), _arm(seed=2)), POLICY).metric("thumbs_up_rate")
    assert (thumbs.control, thumbs.candidate, thumbs.diff, thumbs.ci) == (None, None, None, None)


def test_metric_lookup_raises_for_an_unknown_name() -> None:
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2)), POLICY)
    with pytest.raises(KeyError, match=r"review_accuracy\.title"):
        decision.metric("review_accuracy.title")


def test_an_empty_rollout_keeps_running_with_no_values() -> None:
    decision = decide(_snapshot(ArmStats(), ArmStats(), at_step=0, hours=0.0), POLICY)
    assert decision.action == "keep_running"
    for metric in decision.metrics:
        assert (metric.control, metric.candidate, metric.ci, metric.breached) == (None, None, None, False)


# --- sample ratio -------------------------------------------------------------------------


def test_a_sample_ratio_mismatch_is_reported_without_halting() -> None:
    periods = (
        AssignmentPeriod(candidate_share=0.05, control_users=1900, candidate_users=100),
        AssignmentPeriod(candidate_share=0.25, control_users=600, candidate_users=400),
    )
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2), periods=periods), POLICY)
    assert decision.action == "advance"
    ratio = decision.sample_ratio
    assert ratio is not None
    assert ratio.df == 2 and ratio.mismatch and ratio.p_value < 1e-20
    assert "Sample-ratio mismatch: the users per arm do not match the intended split (chi-square " in decision.why
    assert "df 2" in decision.why


def test_a_matching_split_is_reported_quietly() -> None:
    periods = (AssignmentPeriod(candidate_share=0.05, control_users=1900, candidate_users=100),)
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2), periods=periods), POLICY)
    assert decision.sample_ratio == SampleRatio(chi2=0.0, df=1, p_value=1.0, mismatch=False)
    assert "Sample-ratio" not in decision.why
    assert decide(_snapshot(_arm(seed=1), _arm(seed=2)), POLICY).sample_ratio is None


def test_the_decision_is_frozen() -> None:
    decision = decide(_snapshot(_arm(seed=1), _arm(seed=2)), POLICY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.action = "halt"  # type: ignore[misc]
