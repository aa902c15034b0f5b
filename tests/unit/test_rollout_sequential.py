"""The always-valid intervals and the sample-ratio test behind the rollout decision."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from statistics import NormalDist

import pytest

from extractor.service.rollout.sequential import (
    DEFAULT_TUNED_N,
    Sample,
    cdf_radius,
    chi2_sf,
    difference_cs,
    empirical_quantile,
    mean_sample,
    mixture_precision,
    normal_mixture_halfwidth,
    quantile_cs,
    quantile_difference_cs,
    rate_sample,
    sample_ratio_chi2,
)
from extractor.service.rollout.snapshot import AssignmentPeriod

pytestmark = pytest.mark.unit

# A rollout halts only once each arm has this many requests (the default policy), so coverage
# is checked from there on: before it the normal approximation is not relied upon.
FIRST_LOOK = 30


def _width(ci: tuple[float, float] | None) -> float:
    assert ci is not None
    return ci[1] - ci[0]


# --- samples ------------------------------------------------------------------------------


def test_rate_sample_floors_the_variance_by_add_half_smoothing() -> None:
    sample = rate_sample(0, 99)
    assert (sample.n, sample.mean) == (99, 0.0)
    assert sample.variance == pytest.approx(0.005 * 0.995)
    assert rate_sample(99, 99).variance == pytest.approx(sample.variance)
    assert rate_sample(50, 100).variance == pytest.approx(0.25)
    with pytest.raises(ValueError, match="trials"):
        rate_sample(0, 0)
    with pytest.raises(ValueError, match="successes"):
        rate_sample(3, 2)


def test_mean_sample_is_the_unbiased_mean_and_variance() -> None:
    sample = mean_sample([1.0, 2.0, 3.0, 6.0])
    assert (sample.n, sample.mean) == (4, 3.0)
    assert sample.variance == pytest.approx(14.0 / 3.0)
    assert mean_sample([7.5]) == Sample(n=1, mean=7.5, variance=0.0)
    with pytest.raises(ValueError, match="at least one"):
        mean_sample([])


# --- the normal-mixture boundary ----------------------------------------------------------


@pytest.mark.parametrize(("sigma", "n", "alpha", "tuned_n"), [(1.0, 100, 0.05, 200.0), (0.3, 5000, 0.0125, 50.0)])
def test_halfwidth_matches_the_asymptotic_confidence_sequence_form(
    sigma: float, n: int, alpha: float, tuned_n: float
) -> None:
    # The same boundary written as Waudby-Smith et al. do, per observation with rho^2 n:
    # sigma * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * log(sqrt(n rho^2 + 1) / alpha)).
    rho2 = mixture_precision(alpha, tuned_n)
    expected = sigma * math.sqrt(2.0 * (n * rho2 + 1.0) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1.0) / alpha))
    assert normal_mixture_halfwidth(sigma**2 / n, rho2 * sigma**2, alpha) == pytest.approx(expected, rel=1e-12)


def test_mixture_precision_is_the_near_optimal_tuning() -> None:
    two_log = 2.0 * math.log(20.0)
    assert mixture_precision(0.05, 100.0) == pytest.approx((two_log + math.log(1.0 + two_log)) / 100.0)
    with pytest.raises(ValueError, match="tuned_n"):
        mixture_precision(0.05, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        mixture_precision(1.0)


def test_the_sequence_is_narrowest_near_its_tuned_sample_size() -> None:
    arm = rate_sample(100, 1000)  # 1000 per arm: 500 effective observations
    widths = {tuned: _width(difference_cs(arm, arm, 0.05, tuned)) for tuned in (50.0, 125.0, 500.0, 2000.0, 5000.0)}
    assert min(widths, key=widths.__getitem__) == 500.0
    # ...and mis-tuning by 4x either way costs little: the price of not knowing the size ahead.
    assert max(widths[125.0], widths[2000.0]) < 1.1 * widths[500.0]


def test_the_default_tuning_stays_near_the_best_over_a_rollouts_sample_sizes() -> None:
    alpha = 0.05 / 4  # four guardrails
    for n_eff in (30, 100, 1000, 10000):
        variance = 1.0 / n_eff  # unit per-observation variance

        def half(tuned_n: float, variance: float = variance) -> float:
            return normal_mixture_halfwidth(variance, mixture_precision(alpha, tuned_n), alpha)

        best = min(half(tuned) for tuned in (10.0 * 1.2**k for k in range(60)))
        assert half(DEFAULT_TUNED_N) <= 1.13 * best, n_eff


def test_the_sequence_is_wider_than_a_fixed_sample_interval() -> None:
    arm = rate_sample(100, 1000)
    z = NormalDist().inv_cdf(0.975)
    fixed = 2.0 * z * math.sqrt(2.0 * arm.variance / 1000)
    assert 1.5 * fixed < _width(difference_cs(arm, arm, 0.05, 500.0)) < 1.6 * fixed


def test_identical_arms_give_an_interval_symmetric_about_zero() -> None:
    low, high = difference_cs(rate_sample(40, 400), rate_sample(40, 400), 0.05) or (math.nan, math.nan)
    assert low == pytest.approx(-high)
    assert low < 0.0 < high


def test_swapping_the_arms_negates_the_interval() -> None:
    control, candidate = rate_sample(10, 300), rate_sample(45, 500)
    forward = difference_cs(control, candidate, 0.05)
    backward = difference_cs(candidate, control, 0.05)
    assert forward is not None and backward is not None
    assert forward == pytest.approx((-backward[1], -backward[0]))
    assert (forward[0] + forward[1]) / 2.0 == pytest.approx(45 / 500 - 10 / 300)


def test_the_interval_narrows_monotonically_with_more_data() -> None:
    widths = [
        _width(difference_cs(rate_sample(n // 10, n), rate_sample(n // 10, n), 0.05)) for n in range(10, 20001, 10)
    ]
    assert all(later < earlier for earlier, later in itertools.pairwise(widths))
    assert widths[-1] < 0.03


def test_zero_errors_in_both_arms_still_gives_an_interval() -> None:
    ci = difference_cs(rate_sample(0, 500), rate_sample(0, 500), 0.05)
    assert ci is not None
    low, high = ci
    assert math.isfinite(low) and math.isfinite(high)
    assert low < 0.0 < high
    assert high < 0.05


def test_constant_values_in_both_arms_give_the_exact_difference() -> None:
    assert difference_cs(mean_sample([0.002] * 10), mean_sample([0.003] * 10), 0.05) == pytest.approx((0.001, 0.001))


def test_no_interval_until_each_arm_has_two_observations() -> None:
    assert difference_cs(rate_sample(0, 1), rate_sample(0, 50), 0.05) is None
    assert difference_cs(mean_sample([1.0, 2.0]), mean_sample([3.0]), 0.05) is None
    assert difference_cs(mean_sample([1.0, 2.0]), mean_sample([3.0, 3.5]), 0.05) is not None


def test_the_halfwidth_refuses_a_zero_variance() -> None:
    with pytest.raises(ValueError, match="positive"):
        normal_mixture_halfwidth(0.0, 1.0, 0.05)


def _rate_miss_rate(p_control: float, p_candidate: float, shares: tuple[float, ...], alpha: float, seed: int) -> float:
    """Share of runs in which the sequence ever misses the true difference, looked at after every request."""
    runs, requests = 200, 1500
    truth = p_candidate - p_control
    misses = 0
    for run in range(runs):
        rng = random.Random(f"{seed}:{run}")
        hits, n = [0, 0], [0, 0]
        for index in range(requests):
            arm = 1 if rng.random() < shares[index * len(shares) // requests] else 0
            n[arm] += 1
            hits[arm] += rng.random() < (p_candidate if arm else p_control)
            if min(n) < FIRST_LOOK:
                continue
            ci = difference_cs(rate_sample(hits[0], n[0]), rate_sample(hits[1], n[1]), alpha)
            assert ci is not None
            if not ci[0] <= truth <= ci[1]:
                misses += 1
                break
    return misses / runs


@pytest.mark.parametrize(
    ("p_control", "p_candidate", "shares"),
    [
        (0.05, 0.05, (0.5,)),
        (0.02, 0.07, (0.5,)),
        # The traffic split changes mid-run, as it does when a rollout advances a step.
        (0.20, 0.25, (0.05, 0.25, 0.5)),
    ],
)
def test_rate_sequence_covers_the_true_difference_at_every_look(
    p_control: float, p_candidate: float, shares: tuple[float, ...]
) -> None:
    alpha = 0.10
    margin = 2.5 * math.sqrt(alpha * (1.0 - alpha) / 200)
    assert _rate_miss_rate(p_control, p_candidate, shares, alpha, seed=7) <= alpha + margin


def _running(sums: list[float], n: int) -> Sample:
    """A sample from its count, sum and sum of squares (the test's running totals)."""
    mean = sums[0] / n
    return Sample(n=n, mean=mean, variance=(sums[1] - n * mean * mean) / (n - 1))


def test_mean_sequence_covers_a_skewed_true_difference_at_every_look() -> None:
    alpha, runs, requests = 0.10, 200, 1500
    sigma = 1.0
    # Lognormal costs: control median 1, candidate median 1.2; the true means differ by 0.2 e^(sigma^2/2).
    truth = 0.2 * math.exp(sigma**2 / 2.0)
    misses = 0
    for run in range(runs):
        rng = random.Random(f"mean:{run}")
        sums, n = [[0.0, 0.0], [0.0, 0.0]], [0, 0]
        for _ in range(requests):
            arm = 1 if rng.random() < 0.5 else 0
            value = (1.2 if arm else 1.0) * rng.lognormvariate(0.0, sigma)
            n[arm] += 1
            sums[arm][0] += value
            sums[arm][1] += value * value
            if min(n) < FIRST_LOOK:
                continue
            ci = difference_cs(_running(sums[0], n[0]), _running(sums[1], n[1]), alpha)
            assert ci is not None
            if not ci[0] <= truth <= ci[1]:
                misses += 1
                break
    assert misses / runs <= alpha + 2.5 * math.sqrt(alpha * (1.0 - alpha) / runs)


# --- quantiles ----------------------------------------------------------------------------


def test_cdf_radius_uses_howard_and_ramdas_constants() -> None:
    # 0.85 sqrt((log log(e n) + 0.8 log(1612 / alpha)) / n) at n = 1000, alpha = 0.05.
    assert cdf_radius(1000, 0.05) == pytest.approx(0.0865691, abs=1e-7)
    assert cdf_radius(1, 0.05) == pytest.approx(0.85 * math.sqrt(0.8 * math.log(1612 / 0.05)))
    with pytest.raises(ValueError, match="at least one"):
        cdf_radius(0, 0.05)


def test_empirical_quantile_is_the_ceil_rank_order_statistic() -> None:
    values = [float(v) for v in range(1, 101)]
    assert empirical_quantile(values, 0.95) == 95.0
    assert empirical_quantile(values, 0.951) == 96.0
    assert empirical_quantile([4.0], 0.95) == 4.0
    with pytest.raises(ValueError, match="at least one"):
        empirical_quantile([], 0.5)


def test_quantile_sequence_is_unbounded_above_until_there_is_enough_data() -> None:
    assert quantile_cs([], 0.95, 0.05) == (-math.inf, math.inf)
    few = [float(v) for v in range(100)]
    low, high = quantile_cs(few, 0.95, 0.05)
    assert high == math.inf
    assert math.isfinite(low) and low < empirical_quantile(few, 0.95)
    many = [float(v) for v in range(20000)]
    low, high = quantile_cs(many, 0.95, 0.05)
    assert low < empirical_quantile(many, 0.95) < high < 20000.0


def test_quantile_sequence_lower_side_opens_for_a_low_quantile() -> None:
    low, high = quantile_cs([float(v) for v in range(100)], 0.05, 0.05)
    assert low == -math.inf
    assert math.isfinite(high)


def test_quantile_sequence_narrows_with_more_data() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(7.5, 0.5) for _ in range(50000)]
    widths = []
    for n in (5000, 10000, 20000, 50000):
        prefix = sorted(values[:n])
        low, high = quantile_cs(prefix, 0.95, 0.05)
        widths.append(high - low)
    assert all(later < earlier for earlier, later in itertools.pairwise(widths))


def test_quantile_sequence_covers_the_true_p95_at_every_look() -> None:
    alpha, runs, requests = 0.10, 150, 1500
    truth = math.exp(7.5 + 0.5 * NormalDist().inv_cdf(0.95))
    misses = 0
    for run in range(runs):
        rng = random.Random(f"quantile:{run}")
        ordered: list[float] = []
        for _ in range(requests):
            bisect.insort(ordered, rng.lognormvariate(7.5, 0.5))
            low, high = quantile_cs(ordered, 0.95, alpha)
            if not low <= truth <= high:
                misses += 1
                break
    assert misses / runs <= alpha + 2.5 * math.sqrt(alpha * (1.0 - alpha) / runs)


def test_quantile_difference_combines_the_arms_and_keeps_open_sides_open() -> None:
    control = [float(v) for v in range(20000)]
    candidate = [v + 500.0 for v in control]
    low, high = quantile_difference_cs(control, candidate, 0.95, 0.05)
    control_low, control_high = quantile_cs(control, 0.95, 0.025)
    candidate_low, candidate_high = quantile_cs(candidate, 0.95, 0.025)
    assert (low, high) == (candidate_low - control_high, candidate_high - control_low)
    assert low < 500.0 < high
    # A short control arm has no upper bound on its p95 yet, so the difference has no lower one.
    low, high = quantile_difference_cs(control[:50], candidate, 0.95, 0.05)
    assert low == -math.inf
    assert math.isfinite(high)
    # Open on both sides, never nan: -inf - (+inf) and +inf - (-inf).
    few = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert quantile_difference_cs(few, few, 0.95, 0.05) == (-math.inf, math.inf)
    assert quantile_difference_cs([], [], 0.95, 0.05) == (-math.inf, math.inf)


# --- sample ratio -------------------------------------------------------------------------

# Chi-square upper quantiles: sf(x, df) at these x is the stated probability...
CHI2_REFERENCE = [
    (3.841458820694124, 1, 0.05),
    (5.991464547107979, 2, 0.05),
    (7.814727903251178, 3, 0.05),
    (9.487729036781154, 4, 0.05),
    (11.070497693516351, 5, 0.05),
    (10.827566170662733, 1, 0.001),
    (13.815510557964274, 2, 0.001),
    (16.26623619623813, 3, 0.001),
    (18.46682695290317, 4, 0.001),
    (20.515005652432876, 5, 0.001),
    # and a few elsewhere, from a reference implementation of the regularised gamma function
    (50.0, 40, 0.1335748340856504),
    (100.0, 61, 0.0012137188869887922),
    (0.5, 9, 0.9999695662588389),
]


@pytest.mark.parametrize(("x", "df", "p"), CHI2_REFERENCE)
def test_chi2_survival_matches_reference_values(x: float, df: int, p: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


def test_chi2_survival_edges() -> None:
    assert chi2_sf(0.0, 3) == 1.0
    assert chi2_sf(2.0, 2) == pytest.approx(math.exp(-1.0))
    assert chi2_sf(1.0, 1) == pytest.approx(math.erfc(math.sqrt(0.5)))
    assert chi2_sf(1e6, 7) == 0.0
    assert 0.99 < chi2_sf(1.0, 30) <= 1.0
    with pytest.raises(ValueError, match="df"):
        chi2_sf(1.0, 0)


def test_sample_ratio_chi2_sums_the_periods_that_can_be_tested() -> None:
    periods = [
        AssignmentPeriod(candidate_share=0.5, control_users=40, candidate_users=60),  # 2 + 2
        AssignmentPeriod(candidate_share=0.2, control_users=90, candidate_users=10),  # 100/80 + 100/20
        AssignmentPeriod(candidate_share=1.0, control_users=0, candidate_users=500),  # no split to test
        AssignmentPeriod(candidate_share=0.05, control_users=0, candidate_users=0),  # no users
        AssignmentPeriod(candidate_share=0.01, control_users=96, candidate_users=4),  # expects 1 candidate user
    ]
    chi2, df = sample_ratio_chi2(periods)
    assert chi2 == pytest.approx(4.0 + 1.25 + 5.0)
    assert df == 2
    assert sample_ratio_chi2([]) == (0.0, 0)
