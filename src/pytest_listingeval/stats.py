"""Paired statistics for the baseline gate: Wilson intervals, exact McNemar tests, bootstraps."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "DELTA_EPSILON",
    "BootstrapResult",
    "FieldComparison",
    "bootstrap_interval",
    "compare_field",
    "mcnemar_exact",
    "mcnemar_one_sided",
    "paired_bootstrap",
    "wilson_interval",
]

# Float slack for "below the baseline by more than the tolerance": 0.9 - 1.0 is not exactly -0.1.
DELTA_EPSILON = 1e-9


@dataclass(frozen=True)
class BootstrapResult:
    """Paired case-resampling bootstrap of current minus baseline mean per-case pass rate."""

    n: int
    baseline_rate: float
    current_rate: float
    delta: float
    low: float
    high: float
    p_value_drop: float
    confidence: float
    iterations: int
    seed: int


@dataclass(frozen=True)
class FieldComparison:
    """One field compared on the case ids both runs scored; accuracies and delta are in 0..1."""

    n: int
    baseline_accuracy: float
    current_accuracy: float
    delta: float
    flipped_down: int
    flipped_up: int
    p_value: float
    p_value_drop: float
    tolerance: float
    alpha: float
    strict_regression: bool
    significant_regression: bool
    inconclusive: bool


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0.0, 1.0) when there are no trials."""
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    z = _z(confidence)
    z2 = z * z
    phat = successes / n
    denom = 1.0 + z2 / n
    centre = (phat + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(phat * (1.0 - phat) / n + z2 / (4.0 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def _half_binomial_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Bin(n, 1/2), summed exactly in integers and rounded once."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    term = 1
    total = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        total += term
    # int / int is correctly rounded in CPython even for huge operands.
    return total / (1 << n)


def _check_counts(flipped_down: int, flipped_up: int) -> None:
    if flipped_down < 0 or flipped_up < 0:
        raise ValueError(f"flip counts must be non-negative, got down={flipped_down}, up={flipped_up}")


def mcnemar_exact(flipped_down: int, flipped_up: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts; 1.0 with none."""
    _check_counts(flipped_down, flipped_up)
    discordant = flipped_down + flipped_up
    if discordant == 0:
        return 1.0
    return min(1.0, 2.0 * _half_binomial_cdf(min(flipped_down, flipped_up), discordant))


def mcnemar_one_sided(flipped_down: int, flipped_up: int) -> float:
    """One-sided exact McNemar p-value for a drop: P(X >= flipped_down), X ~ Bin(b + c, 1/2)."""
    _check_counts(flipped_down, flipped_up)
    discordant = flipped_down + flipped_up
    if discordant == 0:
        return 1.0
    # By symmetry of Bin(m, 1/2), P(X >= down) = P(X <= m - down) = P(X <= up).
    return _half_binomial_cdf(flipped_up, discordant)


def _case_rate(scores: Sequence[float], side: str, index: int) -> float:
    if not scores:
        raise ValueError(f"{side} case #{index} has no repeat scores")
    for score in scores:
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"{side} case #{index} has a score outside 0..1: {score!r}")
    return sum(scores) / len(scores)


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linearly interpolated quantile of an already sorted, non-empty sequence."""
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    frac = pos - lo
    return ordered[lo] + (ordered[hi] - ordered[lo]) * frac


def _check_iterations(iterations: int) -> None:
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")


def _resampled_means(values: Sequence[float], iterations: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    n = len(values)
    return sorted(sum(rng.choices(values, k=n)) / n for _ in range(iterations))


def paired_bootstrap(
    baseline_scores: Sequence[Sequence[float]],
    current_scores: Sequence[Sequence[float]],
    iterations: int = 2000,
    seed: int = 0,
    *,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Resample cases to test whether the current mean per-case pass rate is below the baseline."""
    _check_confidence(confidence)
    _check_iterations(iterations)
    if len(baseline_scores) != len(current_scores):
        raise ValueError(
            f"paired bootstrap needs the same cases on both sides, got "
            f"{len(baseline_scores)} baseline and {len(current_scores)} current"
        )
    base = [_case_rate(s, "baseline", i) for i, s in enumerate(baseline_scores)]
    cur = [_case_rate(s, "current", i) for i, s in enumerate(current_scores)]
    n = len(base)
    if n == 0:
        return BootstrapResult(
            n=0,
            baseline_rate=0.0,
            current_rate=0.0,
            delta=0.0,
            low=-1.0,
            high=1.0,
            p_value_drop=1.0,
            confidence=confidence,
            iterations=iterations,
            seed=seed,
        )
    diffs = [c - b for b, c in zip(base, cur, strict=True)]
    delta = sum(diffs) / n
    boot = _resampled_means(diffs, iterations, seed)
    tail = (1.0 - confidence) / 2.0
    # Shift the bootstrap distribution to the null (no difference) and count resamples at
    # least as low as the observed delta; the +1 keeps the p-value valid and never zero.
    as_low = sum(1 for d in boot if d - delta <= delta + DELTA_EPSILON)
    return BootstrapResult(
        n=n,
        baseline_rate=sum(base) / n,
        current_rate=sum(cur) / n,
        delta=delta,
        low=_percentile(boot, tail),
        high=_percentile(boot, 1.0 - tail),
        p_value_drop=(as_low + 1) / (iterations + 1),
        confidence=confidence,
        iterations=iterations,
        seed=seed,
    )


def bootstrap_interval(
    per_case_rates: Sequence[float],
    iterations: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval for one run's accuracy from per-case repeat pass rates."""
    _check_confidence(confidence)
    _check_iterations(iterations)
    for i, rate in enumerate(per_case_rates):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"case #{i} has a pass rate outside 0..1: {rate!r}")
    if not per_case_rates:
        return (0.0, 1.0)
    boot = _resampled_means(per_case_rates, iterations, seed)
    tail = (1.0 - confidence) / 2.0
    return (_percentile(boot, tail), _percentile(boot, 1.0 - tail))


def _check_score(case_id: str, score: int, side: str) -> None:
    if score not in (0, 1):
        raise ValueError(f"{side} score for case {case_id!r} must be 0 or 1, got {score!r}")


def compare_field(
    baseline: Mapping[str, int],
    current: Mapping[str, int],
    tolerance: float,
    alpha: float,
) -> FieldComparison:
    """Compare one field's 0/1 scores on the shared case ids and give the gate's verdicts."""
    if not 0.0 <= tolerance <= 1.0:
        raise ValueError(f"tolerance is in accuracy units 0..1, got {tolerance!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    shared = baseline.keys() & current.keys()
    base_pass = cur_pass = down = up = 0
    for case_id in shared:
        b, c = baseline[case_id], current[case_id]
        _check_score(case_id, b, "baseline")
        _check_score(case_id, c, "current")
        base_pass += b
        cur_pass += c
        down += b > c
        up += c > b
    n = len(shared)
    if n == 0:
        base_acc = cur_acc = delta = 0.0
    else:
        base_acc, cur_acc = base_pass / n, cur_pass / n
        # One rounding of the exact count difference, so a 1-in-10 drop is exactly -0.1.
        delta = (cur_pass - base_pass) / n
    p_drop = mcnemar_one_sided(down, up)
    strict = n > 0 and delta < -tolerance - DELTA_EPSILON
    significant = strict and p_drop < alpha
    return FieldComparison(
        n=n,
        baseline_accuracy=base_acc,
        current_accuracy=cur_acc,
        delta=delta,
        flipped_down=down,
        flipped_up=up,
        p_value=mcnemar_exact(down, up),
        p_value_drop=p_drop,
        tolerance=tolerance,
        alpha=alpha,
        strict_regression=strict,
        significant_regression=significant,
        inconclusive=strict and not significant,
    )


def compare_field_rates(
    baseline: Mapping[str, float],
    current: Mapping[str, float],
    tolerance: float,
    alpha: float,
    iterations: int = 2000,
    seed: int = 0,
) -> FieldComparison:
    """Like `compare_field` for per-case pass rates (runs with repeats): a paired bootstrap over cases."""
    shared = sorted(baseline.keys() & current.keys())
    base = [[float(baseline[c])] for c in shared]
    cur = [[float(current[c])] for c in shared]
    boot = paired_bootstrap(base, cur, iterations=iterations, seed=seed)
    down = sum(1 for c in shared if current[c] < baseline[c])
    up = sum(1 for c in shared if current[c] > baseline[c])
    strict = bool(shared) and boot.delta < -tolerance - DELTA_EPSILON
    significant = strict and boot.p_value_drop < alpha
    return FieldComparison(
        n=len(shared),
        baseline_accuracy=boot.baseline_rate,
        current_accuracy=boot.current_rate,
        delta=boot.delta,
        flipped_down=down,
        flipped_up=up,
        p_value=min(1.0, 2 * min(boot.p_value_drop, 1 - boot.p_value_drop + 1 / (iterations + 1))),
        p_value_drop=boot.p_value_drop,
        tolerance=tolerance,
        alpha=alpha,
        strict_regression=strict,
        significant_regression=significant,
        inconclusive=strict and not significant,
    )


def clustered_drop_p_value(
    baseline_by_case: Sequence[Sequence[float]],
    current_by_case: Sequence[Sequence[float]],
    iterations: int = 2000,
    seed: int = 0,
) -> float:
    """One-sided p-value that micro accuracy dropped, resampling whole cases (fields of a case move together)."""
    _check_iterations(iterations)
    pairs = [(sum(b), sum(c), len(b)) for b, c in zip(baseline_by_case, current_by_case, strict=True) if b]
    total = sum(n for _, _, n in pairs)
    if not pairs or total == 0:
        return 1.0
    observed = (sum(c for _, c, _ in pairs) - sum(b for b, _, _ in pairs)) / total
    rng = random.Random(seed)
    as_low = 0
    for _ in range(iterations):
        sample = rng.choices(pairs, k=len(pairs))
        weight = sum(n for _, _, n in sample)
        delta = (sum(c for _, c, _ in sample) - sum(b for b, _, _ in sample)) / weight
        # Shifted to the null of no difference, as in paired_bootstrap.
        if delta - observed <= observed + DELTA_EPSILON:
            as_low += 1
    return (as_low + 1) / (iterations + 1)
