"""View objects for the gate's statistics: mode and alpha, inconclusive drops, flaky fields under repeats."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import formatting as fmt

SIGNIFICANT = "significant"


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class GateInfo:
    """How the gate judged the run: strict or significant mode, alpha, tolerance and repeats."""

    mode: str
    alpha: float
    tolerance: float
    repeats: int
    compared: bool

    @property
    def shown(self) -> bool:
        """Tell whether the gate line is worth showing: there was a comparison, or repeats."""
        return self.compared or self.repeats > 1

    @property
    def significant_mode(self) -> bool:
        """Tell whether the gate only fails on significant drops (one-sided p below alpha)."""
        return self.mode == SIGNIFICANT

    @property
    def p_label(self) -> str:
        """Header of the p-value column: the one-sided drop p in significant mode, else the two-sided p."""
        return "p drop (gate)" if self.significant_mode else "p-value"

    @property
    def p_note(self) -> str:
        """Say which p-value the table shows, which one the gate uses and what is marked sig."""
        level = fmt.alpha(self.alpha)
        if self.significant_mode:
            return (
                f"p is the one-sided test of a drop, the p the significant gate uses: a drop beyond the tolerance "
                f"fails only when p < {level}, otherwise it is inconclusive."
            )
        return f"p is two-sided and marked sig. below {level}; the strict gate fails on any drop beyond the tolerance."

    @property
    def caption(self) -> str:
        """One line naming the gate mode, alpha, tolerance and repeats."""
        parts = [
            f"Gate: {self.mode}",
            f"alpha {fmt.alpha(self.alpha)}",
            f"tolerance {fmt.share_points(self.tolerance)} pts",
        ]
        if self.repeats > 1:
            parts.append(f"{self.repeats} repeats per case")
        return " \u00b7 ".join(parts)


def gate_info(outcome: RunOutcome) -> GateInfo:
    """Read the gate's policy and the repeat count from the outcome."""
    policy = outcome.policy
    return GateInfo(
        mode=policy.mode,
        alpha=policy.alpha,
        tolerance=policy.tolerance,
        repeats=max(outcome.summary.repeats, outcome.config.repeat, 1),
        compared=outcome.comparison is not None,
    )


@dataclass(frozen=True)
class InconclusiveView:
    """A field (or overall) that dropped beyond the tolerance without a significant test."""

    field: str
    baseline: float
    current: float
    p_value_drop: float
    alpha: float

    def sentence(self, escape: Callable[[str], str] = _same) -> str:
        """Plain sentence: what dropped, the p against alpha, and what to do about it."""
        return (
            f"{escape(self.field)} dropped {fmt.pct(self.baseline)} \u2192 {fmt.pct(self.current)} "
            f"(p = {fmt.p_short(self.p_value_drop, self.alpha)} > alpha {fmt.alpha(self.alpha)}): add repeats or cases"
        )


def inconclusive_views(outcome: RunOutcome) -> list[InconclusiveView]:
    """List the inconclusive drops of a significant-mode gate, in the gate's order."""
    alpha = outcome.policy.alpha
    return [InconclusiveView(e.field, e.baseline, e.current, e.p_value_drop, alpha) for e in outcome.inconclusive]


@dataclass(frozen=True)
class FlakyView:
    """A (case, field) pair that passed in some repeats and failed in others."""

    case: str
    field: str
    pass_rate: float
    passes: int | None
    repeats: int | None

    @property
    def rate(self) -> str:
        """Pass rate as passes/repeats (e.g. 2/3), or a percentage when the counts are unknown."""
        if self.passes is not None and self.repeats:
            return f"{self.passes}/{self.repeats}"
        return fmt.pct(self.pass_rate)


def rate_counts(pass_rate: float, repeat_scores: Sequence[int] | None, repeats: int) -> tuple[int | None, int | None]:
    """Count passes and repeats from per-repeat scores, else from the rate and the repeat count."""
    if repeat_scores:
        return sum(1 for s in repeat_scores if s), len(repeat_scores)
    if repeats > 1:
        return round(pass_rate * repeats), repeats
    return None, None


def flaky_views(outcome: RunOutcome) -> list[FlakyView]:
    """List flaky (case, field) pairs with pass counts taken from the cases' per-repeat scores."""
    cases = {c.id: c for c in outcome.cases}
    repeats = gate_info(outcome).repeats
    views = []
    for entry in outcome.flaky or outcome.summary.flaky:
        case = cases.get(entry.case)
        scored = case.fields.get(entry.field) if case else None
        count = case.repeats if case else repeats
        passes, total = rate_counts(entry.pass_rate, scored.repeat_scores if scored else None, count)
        views.append(FlakyView(entry.case, entry.field, entry.pass_rate, passes, total))
    return views
