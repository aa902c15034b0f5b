"""View objects for the gate's statistics: mode and alpha, inconclusive drops, flaky fields under repeats."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_listingeval.report import formatting as fmt

DEFAULT_ALPHA = 0.05
SIGNIFICANT = "significant"


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class GateInfo:
    """How the gate judged the run: strict or significant mode, alpha, tolerance and repeats."""

    mode: str
    alpha: float
    tolerance: float | None
    repeats: int
    explicit: bool

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
        parts = [f"Gate: {self.mode}", f"alpha {fmt.alpha(self.alpha)}"]
        if self.tolerance is not None:
            parts.append(f"tolerance {fmt.share_points(self.tolerance)} pts")
        if self.repeats > 1:
            parts.append(f"{self.repeats} repeats per case")
        return " \u00b7 ".join(parts)


def gate_info(results: Mapping[str, Any]) -> GateInfo:
    """Read the gate mode, alpha and tolerance from the comparison (strict and 0.05 when absent)."""
    comparison = results.get("comparison") or {}
    summary = results.get("summary") or {}
    config = results.get("config") or {}
    alpha = _num(comparison.get("alpha"))
    repeats = _num(summary.get("repeats")) or _num(config.get("repeat")) or 1
    return GateInfo(
        mode=str(comparison.get("mode") or "strict"),
        alpha=alpha if alpha is not None else DEFAULT_ALPHA,
        tolerance=_num(comparison.get("tolerance")),
        repeats=int(repeats),
        explicit="mode" in comparison,
    )


@dataclass(frozen=True)
class InconclusiveView:
    """A field (or overall) that dropped beyond the tolerance without a significant test."""

    field: str
    baseline: float | None
    current: float | None
    p_value_drop: float | None
    alpha: float

    def sentence(self, escape: Callable[[str], str] = _same) -> str:
        """Plain sentence: what dropped, the p against alpha, and what to do about it."""
        return (
            f"{escape(self.field)} dropped {fmt.pct(self.baseline)} \u2192 {fmt.pct(self.current)} "
            f"(p = {fmt.p_short(self.p_value_drop, self.alpha)} > alpha {fmt.alpha(self.alpha)}): add repeats or cases"
        )


def inconclusive_views(results: Mapping[str, Any]) -> list[InconclusiveView]:
    """List the inconclusive drops of a significant-mode gate, in the harness's order."""
    alpha = gate_info(results).alpha
    return [
        InconclusiveView(
            field=str(entry.get("field")),
            baseline=_num(entry.get("baseline")),
            current=_num(entry.get("current")),
            p_value_drop=_num(entry.get("p_value_drop")),
            alpha=alpha,
        )
        for entry in results.get("inconclusive") or []
    ]


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


def rate_counts(pass_rate: float, repeat_scores: Any, repeats: Any) -> tuple[int | None, int | None]:
    """Count passes and repeats from per-repeat scores, else from the rate and the repeat count."""
    if isinstance(repeat_scores, list) and repeat_scores:
        return sum(1 for s in repeat_scores if s), len(repeat_scores)
    n = _num(repeats)
    if n and n > 1:
        return round(pass_rate * n), int(n)
    return None, None


def flaky_views(results: Mapping[str, Any]) -> list[FlakyView]:
    """List flaky (case, field) pairs with pass counts taken from the cases' per-repeat scores."""
    summary = results.get("summary") or {}
    entries = results.get("flaky")
    if entries is None:
        entries = summary.get("flaky")
    cases = {str(c.get("id")): c for c in results.get("cases") or []}
    views = []
    for entry in entries or []:
        case_id, name = str(entry.get("case")), str(entry.get("field"))
        case = cases.get(case_id) or {}
        scored = (case.get("fields") or {}).get(name) or {}
        rate = _num(entry.get("pass_rate"))
        if rate is None:
            rate = _num(scored.get("score")) or 0.0
        passes, repeats = rate_counts(rate, scored.get("repeat_scores"), case.get("repeats", summary.get("repeats")))
        views.append(FlakyView(case_id, name, rate, passes, repeats))
    return views
