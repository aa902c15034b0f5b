"""The gate's one decision: a pure function from the comparison, coverage and faults to a verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_listingeval.outcome import (
    Comparison,
    Coverage,
    CriticalMiss,
    FieldDelta,
    GatePolicy,
    Regression,
    RunConfig,
    Verdict,
)
from pytest_listingeval.stats import DELTA_EPSILON

OVERALL = "overall"
_SHOWN = 5


@dataclass(frozen=True)
class GateInput:
    """Everything the verdict depends on, gathered before anything is rendered."""

    policy: GatePolicy
    config: RunConfig
    coverage: Coverage
    harness_errors: Sequence[str]
    critical_misses: Sequence[CriticalMiss]
    comparison: Comparison | None = None
    baseline_config: RunConfig | None = None
    gated: bool = False
    update_baseline: bool = False


@dataclass(frozen=True)
class Decision:
    """The verdict and what explains it; `errors` holds the run's faults and the gate's own refusals."""

    verdict: Verdict
    errors: tuple[str, ...]
    regressions: tuple[Regression, ...]
    inconclusive: tuple[Regression, ...]
    partial: bool
    update_allowed: bool


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


def coverage_problems(coverage: Coverage) -> list[str]:
    """Why a run is partial, one phrase per reason."""
    reasons = []
    if coverage.not_run:
        reasons.append(f"{len(coverage.not_run)} baseline case(s) were not run: {_names(coverage.not_run)}")
    others = [cid for cid in coverage.not_selected if cid not in set(coverage.not_run)]
    if others:
        reasons.append(f"{len(others)} case(s) of the case set were not selected: {_names(others)}")
    if coverage.removed:
        reasons.append(f"{len(coverage.removed)} baseline case(s) no longer exist: {_names(coverage.removed)}")
    return reasons


def _family_problem(config: RunConfig, baseline: RunConfig | None) -> str | None:
    if baseline is None:
        return None
    for key, label in (("task", "task"), ("output_model", "output model")):
        theirs, ours = getattr(baseline, key), getattr(config, key)
        if theirs and ours and theirs != ours:
            return (
                f"the baseline was written for {label} {theirs!r} but this run evaluates {ours!r}: "
                "it is another project's or another task's baseline"
            )
    return None


def _judge(name: str, row: FieldDelta, policy: GatePolicy) -> tuple[Regression | None, Regression | None]:
    """(regression, inconclusive) for one row under the policy."""
    dropped = row.n > 0 and row.delta < -policy.tolerance - DELTA_EPSILON
    if not dropped:
        return None, None
    entry = Regression(
        field=name, baseline=row.baseline, current=row.current, delta=row.delta, p_value_drop=row.p_value_drop
    )
    if policy.mode == "strict" or row.p_value_drop < policy.alpha:
        return entry, None
    return None, entry


def decide(given: GateInput) -> Decision:
    """Decide the verdict: error > regression (or critical miss) > inconclusive > pass."""
    errors = list(given.harness_errors)
    coverage, policy = given.coverage, given.policy
    partial_reasons = coverage_problems(coverage)
    if given.gated and partial_reasons and not policy.allow_subset:
        errors.append(
            "partial run: " + "; ".join(partial_reasons) + ". The gate compares the whole case set: run every "
            "case, or pass --eval-allow-subset to gate on the cases that ran"
        )
    update_allowed = given.update_baseline
    if given.update_baseline and partial_reasons:
        errors.append("--update-baseline needs the whole case set: " + "; ".join(partial_reasons))
        update_allowed = False
    family = _family_problem(given.config, given.baseline_config)
    if family:
        errors.append(family)
    regressions: list[Regression] = []
    inconclusive: list[Regression] = []
    comparison = given.comparison
    if comparison is not None and not family:
        if comparison.shared_cases < policy.min_shared:
            errors.append(
                f"the baseline shares {comparison.shared_cases} scored case(s) with this run, fewer than "
                f"--eval-min-shared {policy.min_shared}: it is not a baseline of this case set"
            )
        rows = [*comparison.fields.items(), (OVERALL, comparison.overall)]
        for name, row in rows:
            regression, unsure = _judge(name, row, policy)
            if regression:
                regressions.append(regression)
            if unsure:
                inconclusive.append(unsure)
    if errors:
        update_allowed = False
    verdict: Verdict
    if errors:
        verdict = "error"
    elif regressions or given.critical_misses:
        verdict = "regression"
    elif inconclusive:
        verdict = "inconclusive"
    else:
        verdict = "pass"
    return Decision(
        verdict=verdict,
        errors=tuple(errors),
        regressions=tuple(regressions),
        inconclusive=tuple(inconclusive),
        partial=coverage.partial,
        update_allowed=update_allowed,
    )
