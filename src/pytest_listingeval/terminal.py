"""The end-of-run summary printed in the terminal, read from the run's outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from pytest_listingeval.outcome import FieldDelta, RunOutcome
from pytest_listingeval.report import run_view
from pytest_listingeval.safe_text import terminal_safe

_COLOURS: dict[str, dict[str, bool]] = {
    "pass": {"green": True},
    "regression": {"red": True},
    "error": {"red": True},
    "incomplete": {"red": True},
    "inconclusive": {"yellow": True},
}
MAX_IDS = 10


def terminal_text(value: object) -> str:
    """Text safe to print: escape sequences and control characters removed."""
    return terminal_safe(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def _delta(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+5.1f} pts"


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS])
    return shown + (f" and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else "")


class _Lines:
    """Every line goes through terminal_text: outcome strings may hold model or case-file text."""

    def __init__(self, tr: pytest.TerminalReporter) -> None:
        self.tr = tr

    def line(self, text: str, **markup: bool) -> None:
        self.tr.write_line(terminal_text(text), **markup)

    def sep(self, title: str, **markup: bool) -> None:
        self.tr.write_sep("=", terminal_text(title), **markup)


def _compared(row: FieldDelta, significant: bool) -> str:
    if row.n == 0:  # nothing shared: a baseline figure of 0.0 would be made up
        return f"{'-':>10}"
    flips = f"{row.flipped_down}/{row.flipped_up}"
    p = row.p_value_drop if significant else row.p_value
    return f"{_pct(row.baseline):>10}{_delta(row.delta):>11}{flips:>11}{p:>8.3f}"


def _table(out: _Lines, outcome: RunOutcome) -> None:
    summary, comparison = outcome.summary, outcome.comparison
    rows = comparison.fields if comparison else {}
    significant = outcome.policy.mode == "significant"
    # Field paths (`line_items[*].price`) can be long: the first column fits the longest name.
    w = max([14, *(len(name) + 1 for name in summary.fields)])
    header = f"{'field':<{w}}{'n':>5}{'accuracy':>10}{'95% CI':>16}"
    if comparison:
        header += f"{'baseline':>10}{'delta':>11}{'flips -/+':>11}{'p drop' if significant else 'p':>8}"
    out.line(header)
    for name, stats in summary.fields.items():
        line = f"{name:<{w}}{stats.n:>5}{_pct(stats.accuracy):>10}"
        line += f"{_pct(stats.ci_low).strip() + '-' + _pct(stats.ci_high).strip():>16}"
        if name in rows:
            line += _compared(rows[name], significant)
        out.line(line)
    overall = f"{'overall':<{w}}{'':>5}{_pct(summary.overall):>10}{'':>16}"
    exact = f"{'exact cases':<{w}}{'':>5}{_pct(summary.exact_cases):>10}{'':>16}"
    if comparison:
        overall += _compared(comparison.overall, significant)
        exact += _compared(comparison.exact_cases, significant)
    out.line(overall)
    out.line(exact)


def _coverage(out: _Lines, outcome: RunOutcome) -> None:
    coverage = run_view.coverage_view(outcome)
    if coverage is None:
        return
    out.line(f"PARTIAL run: {coverage.label.removeprefix('partial: ')}", yellow=True)
    for item in coverage.lists:
        out.line(f"  {item.label} ({len(item.ids)}): {_names(item.ids)}", yellow=True)


def _comparison(out: _Lines, outcome: RunOutcome) -> None:
    comparison = outcome.comparison
    if comparison is None:
        return
    added, removed = comparison.added_cases, comparison.removed_cases
    if added or removed:
        out.line(f"cases added {len(added)}, removed {len(removed)} (not compared)")
    for item in run_view.not_compared(outcome):
        out.line(f"NOT COMPARED ({item.label}) {len(item.ids)}: {_names(item.ids)}", yellow=True)
    for relabel in run_view.relabel_views(outcome):
        for change in relabel.changes:
            out.line(f"RELABELLED {relabel.case}: {change.field} {change.before} -> {change.after}", yellow=True)
        if relabel.critical_changed or not relabel.changes:
            what = "critical fields changed" if relabel.critical_changed else "expectations changed"
            out.line(f"RELABELLED {relabel.case}: {what}", yellow=True)


def _verdict_causes(out: _Lines, outcome: RunOutcome) -> None:
    if changed := run_view.policy_change_text(outcome):
        out.line(f"POLICY {changed}", yellow=True)
    for error in outcome.harness_errors:
        out.line(f"HARNESS ERROR {error}", red=True)
    for miss in outcome.critical_misses:
        out.line(f"CRITICAL MISS {miss.case}: {miss.field}", red=True)
    for reg in outcome.regressions:
        out.line(f"REGRESSION {reg.field}: {_pct(reg.baseline).strip()} -> {_pct(reg.current).strip()}", red=True)
    for item in outcome.inconclusive:
        out.line(
            f"INCONCLUSIVE {item.field}: dropped {_pct(item.baseline).strip()} -> {_pct(item.current).strip()} "
            f"but p={item.p_value_drop:.3f}: add repeats or cases",
            yellow=True,
        )


def write_summary(tr: pytest.TerminalReporter, outcome: RunOutcome, written: Mapping[str, str]) -> None:
    """Per-field table, coverage, relabels, usage, the verdict and what caused it, then where outputs went."""
    out = _Lines(tr)
    summary, config, policy = outcome.summary, outcome.config, outcome.policy
    out.sep("listingeval summary")
    out.line(
        f"model {config.model}  prompt {config.prompt_id}  schema {config.schema_id}  "
        f"cases {summary.cases}  errors {summary.errors}  harness errors {summary.harness_errors}"
    )
    _coverage(out, outcome)
    if outcome.baseline:
        out.line(
            f"baseline {outcome.baseline.source}  gate {policy.mode}  tolerance {100 * policy.tolerance:g} pts  "
            f"alpha {policy.alpha:g}"
        )
    _table(out, outcome)
    usage = summary.usage
    cost = f"  est. cost ${summary.cost_usd:.4f}" if summary.cost_usd is not None else ""
    out.line(
        f"tokens in {usage.input_tokens} out {usage.output_tokens}{cost}  p50 latency {summary.latency_ms.p50:.0f} ms"
    )
    _comparison(out, outcome)
    _verdict_causes(out, outcome)
    for warning in run_view.judge_warnings(outcome):
        out.line(f"WARNING {warning}", yellow=True)
    if outcome.baseline_update:
        out.line(f"baseline: {outcome.baseline_update}")
    for label, path in written.items():
        out.line(f"{label}: {path}")
    coverage = run_view.coverage_view(outcome)
    title = f"listingeval verdict: {outcome.verdict.upper()}" + (f" ({coverage.label})" if coverage else "")
    out.sep(title, **_COLOURS.get(outcome.verdict, {}))


__all__ = ["terminal_text", "write_summary"]
