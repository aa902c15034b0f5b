"""Rows of the per-field accuracy table: baseline, current, delta, n, flips, p and interval."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_listingeval.outcome import FieldDelta, FieldSummary, RunOutcome
from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report.gate_view import gate_info

OVERALL = "overall"
EXACT = "exact cases"


@dataclass(frozen=True)
class FieldRow:
    """One row of the per-field accuracy table."""

    name: str
    baseline: float | None
    current: float | None
    delta: float | None
    n: int | None
    flipped_down: int | None
    flipped_up: int | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    regressed: bool = False
    kind: str = "field"
    p_value_drop: float | None = None
    alpha: float = 0.05
    significant_mode: bool = False
    inconclusive: bool = False

    @property
    def p_shown(self) -> float | None:
        """The p the gate uses: one-sided (drop) in significant mode, two-sided otherwise."""
        return self.p_value_drop if self.significant_mode else self.p_value

    @property
    def significant(self) -> bool:
        """Tell whether the paired test calls the change significant at the gate's alpha."""
        return fmt.significant(self.p_shown, self.alpha)


def _row(
    outcome: RunOutcome,
    name: str,
    kind: str,
    current: float | None,
    n: int | None,
    compared: FieldDelta | None,
    baseline: float | None,
    summary: FieldSummary | None = None,
    key: str | None = None,
) -> FieldRow:
    gate = gate_info(outcome)
    judged = key or name
    regressed = any(r.field == judged for r in outcome.regressions)
    unsure = any(r.field == judged for r in outcome.inconclusive)
    if compared is not None:
        # The comparison's numbers are on the shared cases only, the ones the gate judged.
        return FieldRow(
            name=name,
            baseline=compared.baseline,
            current=compared.current,
            delta=compared.delta,
            n=compared.n if kind == "field" else n,
            flipped_down=compared.flipped_down,
            flipped_up=compared.flipped_up,
            p_value=compared.p_value,
            ci_low=summary.ci_low if summary else None,
            ci_high=summary.ci_high if summary else None,
            regressed=regressed,
            kind=kind,
            p_value_drop=compared.p_value_drop,
            alpha=gate.alpha,
            significant_mode=gate.significant_mode,
            inconclusive=unsure,
        )
    delta = current - baseline if current is not None and baseline is not None else None
    return FieldRow(
        name=name,
        baseline=baseline,
        current=current,
        delta=delta,
        n=n,
        flipped_down=None,
        flipped_up=None,
        p_value=None,
        ci_low=summary.ci_low if summary else None,
        ci_high=summary.ci_high if summary else None,
        regressed=regressed,
        kind=kind,
        alpha=gate.alpha,
        significant_mode=gate.significant_mode,
        inconclusive=unsure,
    )


def field_rows(outcome: RunOutcome) -> list[FieldRow]:
    """Build per-field rows from the summary, the baseline and the comparison."""
    current = outcome.summary.fields
    compared = outcome.comparison.fields if outcome.comparison else {}
    stored = outcome.baseline.fields if outcome.baseline else {}
    names = list(current) + [n for n in compared if n not in current]
    rows = []
    for name in names:
        now = current.get(name)
        base = stored.get(name)
        rows.append(
            _row(
                outcome,
                name,
                "field",
                now.accuracy if now else None,
                now.n if now else None,
                compared.get(name),
                base.accuracy if base else None,
                now,
            )
        )
    return rows


def aggregate_rows(outcome: RunOutcome) -> list[FieldRow]:
    """Build the overall and exact-case rows of the accuracy table."""
    summary, baseline, comparison = outcome.summary, outcome.baseline, outcome.comparison
    n = comparison.shared_cases if comparison else summary.cases
    return [
        _row(
            outcome,
            OVERALL,
            "aggregate",
            summary.overall,
            n,
            comparison.overall if comparison else None,
            baseline.overall if baseline else None,
        ),
        _row(
            outcome,
            EXACT,
            "aggregate",
            summary.exact_cases,
            n,
            comparison.exact_cases if comparison else None,
            baseline.exact_cases if baseline else None,
            key="exact_cases",
        ),
    ]
