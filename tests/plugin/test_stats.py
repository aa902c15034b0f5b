"""Tests for the gate's statistics: textbook values, scipy cross-checks and the gate simulation."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pytest_listingeval.stats import (
    BootstrapResult,
    FieldComparison,
    bootstrap_interval,
    compare_field,
    mcnemar_exact,
    mcnemar_one_sided,
    paired_bootstrap,
    wilson_interval,
)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "simulate_gate.py"

PAIRS = [(b, c) for b in range(0, 41, 3) for c in range(0, 41, 4)] + [
    (1, 0),
    (0, 1),
    (250, 200),
    (1200, 1300),
    (2600, 2400),
]


# --- McNemar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "up", "expected"),
    [
        (10, 2, 2 * 79 / 4096),  # 0.03857...
        (2, 10, 2 * 79 / 4096),
        (5, 5, 1.0),
        (0, 6, 0.03125),
        (6, 0, 0.03125),
        (0, 0, 1.0),
        (1, 0, 1.0),
        (0, 10, 2 / 1024),
    ],
)
def test_mcnemar_exact_textbook_values(down: int, up: int, expected: float) -> None:
    assert mcnemar_exact(down, up) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_rounds_like_the_textbook() -> None:
    assert round(mcnemar_exact(10, 2), 4) == 0.0386


@pytest.mark.parametrize(
    ("down", "up", "expected"),
    [
        (10, 2, 79 / 4096),
        (2, 10, 1.0 - 13 / 4096),  # P(X >= 2) for Bin(12, .5)
        (6, 0, 1 / 64),
        (0, 6, 1.0),
        (0, 0, 1.0),
        (3, 3, 42 / 64),
    ],
)
def test_mcnemar_one_sided_measures_a_drop(down: int, up: int, expected: float) -> None:
    assert mcnemar_one_sided(down, up) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_is_accurate_for_thousands_of_pairs() -> None:
    # Bin(6000, .5) tail at 2700 by summing exact log terms independently of the module.
    n, k = 6000, 2700
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)
    ]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    assert mcnemar_one_sided(n - k, k) == pytest.approx(tail, rel=1e-9)
    assert mcnemar_exact(k, n - k) == pytest.approx(2 * tail, rel=1e-9)
    assert 0.0 < mcnemar_exact(k, n - k) < 1e-13


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_exact(-1, 3)
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_one_sided(3, -1)


@pytest.mark.parametrize(("down", "up"), PAIRS)
def test_mcnemar_matches_scipy_binomtest(down: int, up: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    n = down + up
    if n == 0:
        assert mcnemar_exact(down, up) == mcnemar_one_sided(down, up) == 1.0
        return
    two_sided = stats.binomtest(min(down, up), n, 0.5, alternative="two-sided").pvalue
    greater = stats.binomtest(down, n, 0.5, alternative="greater").pvalue
    assert mcnemar_exact(down, up) == pytest.approx(two_sided, rel=1e-9, abs=1e-300)
    assert mcnemar_one_sided(down, up) == pytest.approx(greater, rel=1e-9, abs=1e-300)


# --- Wilson ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (8, 10, (0.4902, 0.9433)),
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (50, 100, (0.4038, 0.5962)),
        (1, 1, (0.2065, 1.0)),
    ],
)
def test_wilson_known_values(successes: int, n: int, expected: tuple[float, float]) -> None:
    low, high = wilson_interval(successes, n)
    assert (round(low, 4), round(high, 4)) == expected


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    narrow, wide = wilson_interval(8, 10, 0.80), wilson_interval(8, 10, 0.99)
    assert wide[0] < narrow[0] < 0.8 < narrow[1] < wide[1]


@pytest.mark.parametrize(("successes", "n", "confidence"), [(11, 10, 0.95), (-1, 10, 0.95), (1, 2, 1.0)])
def test_wilson_rejects_bad_input(successes: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n, confidence)


@pytest.mark.parametrize(("successes", "n"), [(0, 7), (3, 7), (7, 7), (17, 40), (912, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(successes: int, n: int, confidence: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(successes, n, confidence)
    assert low == pytest.approx(ci.low, abs=1e-12)
    assert high == pytest.approx(ci.high, abs=1e-12)


# --- Bootstrap ---------------------------------------------------------------------------


def _repeats(rates: list[int], size: int = 3) -> list[list[float]]:
    """Per-case repeat scores with `rate` passes out of `size`."""
    return [[1.0] * r + [0.0] * (size - r) for r in rates]


def test_paired_bootstrap_is_deterministic_for_a_seed() -> None:
    base = _repeats([3, 2, 3, 1, 3, 0, 2, 3, 3, 2] * 3)
    cur = _repeats([3, 1, 2, 1, 3, 0, 1, 3, 2, 2] * 3)
    first = paired_bootstrap(base, cur, iterations=500, seed=7)
    assert first == paired_bootstrap(base, cur, iterations=500, seed=7)
    assert first != paired_bootstrap(base, cur, iterations=500, seed=8)
    assert isinstance(first, BootstrapResult)


def test_paired_bootstrap_sees_a_clear_drop() -> None:
    base = _repeats([3] * 40)
    cur = _repeats([3] * 20 + [0] * 20)
    result = paired_bootstrap(base, cur)
    assert result.n == 40
    assert result.delta == pytest.approx(-0.5)
    assert result.baseline_rate == 1.0
    assert result.current_rate == 0.5
    assert result.low < result.delta < result.high < 0.0
    assert result.p_value_drop == pytest.approx(1 / 2001)


def test_paired_bootstrap_with_no_change_finds_nothing() -> None:
    scores = _repeats([3, 2, 1, 0, 3])
    result = paired_bootstrap(scores, scores, iterations=200)
    assert (result.delta, result.low, result.high, result.p_value_drop) == (0.0, 0.0, 0.0, 1.0)


def test_paired_bootstrap_noise_is_not_a_drop() -> None:
    base = _repeats([3, 2, 1, 3, 2, 3, 1, 2, 3, 3] * 4)
    cur = _repeats([2, 3, 1, 3, 2, 2, 2, 2, 3, 3] * 4)
    result = paired_bootstrap(base, cur, iterations=1000, seed=3)
    assert result.low < 0.0 < result.high
    assert result.p_value_drop > 0.2


def test_paired_bootstrap_edges() -> None:
    empty = paired_bootstrap([], [])
    assert (empty.n, empty.low, empty.high, empty.p_value_drop) == (0, -1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="same cases"):
        paired_bootstrap([[1.0]], [])
    with pytest.raises(ValueError, match="no repeat scores"):
        paired_bootstrap([[]], [[1.0]])
    with pytest.raises(ValueError, match="outside"):
        paired_bootstrap([[2.0]], [[1.0]])
    with pytest.raises(ValueError, match="iterations"):
        paired_bootstrap([[1.0]], [[1.0]], iterations=0)


def test_bootstrap_interval() -> None:
    rates = [1.0, 2 / 3, 1.0, 0.0, 1 / 3, 1.0, 1.0, 2 / 3] * 5
    low, high = bootstrap_interval(rates, iterations=1000, seed=1)
    assert (low, high) == bootstrap_interval(rates, iterations=1000, seed=1)
    assert low < sum(rates) / len(rates) < high
    assert low >= 0.0 and high <= 1.0
    assert bootstrap_interval([0.5] * 10) == (0.5, 0.5)
    assert bootstrap_interval([]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="outside"):
        bootstrap_interval([1.5])


# --- compare_field -----------------------------------------------------------------------


def _scores(pattern: str, prefix: str = "c") -> dict[str, int]:
    return {f"{prefix}{i}": int(ch) for i, ch in enumerate(pattern)}


def test_compare_field_without_shared_cases() -> None:
    result = compare_field({"a": 1}, {"b": 0}, tolerance=0.0, alpha=0.05)
    assert result == FieldComparison(
        n=0,
        baseline_accuracy=0.0,
        current_accuracy=0.0,
        delta=0.0,
        flipped_down=0,
        flipped_up=0,
        p_value=1.0,
        p_value_drop=1.0,
        tolerance=0.0,
        alpha=0.05,
        strict_regression=False,
        significant_regression=False,
        inconclusive=False,
    )


def test_compare_field_all_equal() -> None:
    scores = _scores("1101101111")
    result = compare_field(scores, dict(scores), tolerance=0.0, alpha=0.05)
    assert (result.n, result.delta, result.flipped_down, result.flipped_up) == (10, 0.0, 0, 0)
    assert result.baseline_accuracy == result.current_accuracy == 0.8
    assert (result.p_value, result.p_value_drop) == (1.0, 1.0)
    assert not (result.strict_regression or result.significant_regression or result.inconclusive)


def test_compare_field_uses_only_shared_cases_and_counts_flips() -> None:
    base = _scores("1111100000") | {"only-baseline": 1}
    cur = _scores("1110010000") | {"only-current": 0}
    result = compare_field(base, cur, tolerance=0.0, alpha=0.05)
    assert result.n == 10
    assert (result.flipped_down, result.flipped_up) == (2, 1)
    assert result.baseline_accuracy == 0.5
    assert result.current_accuracy == 0.4
    assert result.delta == pytest.approx(-0.1)
    assert result.p_value == 1.0
    assert result.p_value_drop == pytest.approx(0.5)
    assert result.strict_regression and result.inconclusive
    assert not result.significant_regression


@pytest.mark.parametrize(
    ("tolerance", "strict"),
    [(0.1, False), (0.3 - 0.2, False), (0.0999, True), (0.0, True), (0.2, False)],
)
def test_compare_field_tolerance_boundary(tolerance: float, strict: bool) -> None:
    # 3 of 30 cases drop: delta is exactly -0.1, which is not below by MORE than 0.1.
    base = _scores("1" * 30)
    cur = _scores("0" * 3 + "1" * 27)
    result = compare_field(base, cur, tolerance=tolerance, alpha=0.05)
    assert result.delta == -0.1
    assert result.strict_regression is strict
    assert result.p_value_drop == 1 / 8  # 3 down, 0 up: too few flips to be significant
    assert result.inconclusive is strict
    assert not result.significant_regression


def test_compare_field_significant_versus_inconclusive() -> None:
    base = _scores("1" * 20)
    big = compare_field(base, _scores("0" * 6 + "1" * 14), tolerance=0.0, alpha=0.05)
    assert big.p_value_drop == pytest.approx(1 / 64)
    assert big.significant_regression and not big.inconclusive
    small = compare_field(base, _scores("0" * 2 + "1" * 18), tolerance=0.0, alpha=0.05)
    assert small.p_value_drop == pytest.approx(0.25)
    assert small.strict_regression and small.inconclusive
    assert not small.significant_regression


def test_compare_field_improvement_is_never_a_regression() -> None:
    result = compare_field(_scores("0" * 10), _scores("1" * 10), tolerance=0.0, alpha=0.05)
    assert result.delta == 1.0
    assert result.p_value == pytest.approx(2 / 1024)
    assert result.p_value_drop == 1.0
    assert not (result.strict_regression or result.significant_regression or result.inconclusive)


def test_compare_field_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        compare_field({"a": 2}, {"a": 1}, tolerance=0.0, alpha=0.05)
    with pytest.raises(ValueError, match="tolerance"):
        compare_field({}, {}, tolerance=2.0, alpha=0.05)
    with pytest.raises(ValueError, match="alpha"):
        compare_field({}, {}, tolerance=0.0, alpha=0.0)


# --- the gate simulation -----------------------------------------------------------------


def _load_simulation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("simulate_gate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_simulated_significant_gate_keeps_false_failures_under_alpha() -> None:
    sim = _load_simulation()
    alpha, trials = 0.05, 300
    margin = 3.0 * math.sqrt(alpha * (1.0 - alpha) / trials)
    for flip_rate in (None, 0.05):
        scenario = sim.Scenario(cases=100, accuracy=0.85, flip_rate=flip_rate, drop=0.10, alpha=alpha)
        simulated = sim.simulate(scenario, trials=trials, seed=11)
        exact = sim.exact_rates(scenario)
        assert simulated.significant_null <= alpha + margin
        assert exact.significant_null <= alpha
        # The Monte Carlo and the exact law describe the same model.
        for name in ("strict_null", "significant_null", "strict_drop", "significant_drop"):
            p = getattr(exact, name)
            se = math.sqrt(max(p * (1.0 - p), 1e-4) / trials)
            assert abs(getattr(simulated, name) - p) <= 4.0 * se, name


def test_simulation_table_renders(tmp_path: Path) -> None:
    sim = _load_simulation()
    out = tmp_path / "gate.md"
    assert sim.main(["--trials", "20", "--seed", "2", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "python scripts/simulate_gate.py --trials 20 --seed 2" in text
    assert sum(line.startswith("|") for line in text.splitlines()) == 7  # header, rule, 5 rows
