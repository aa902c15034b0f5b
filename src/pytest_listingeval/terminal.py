"""The end-of-run summary printed in the terminal."""

from __future__ import annotations

from typing import Any

import pytest

_COLOURS = {
    "pass": {"green": True},
    "regression": {"red": True},
    "error": {"red": True},
    "inconclusive": {"yellow": True},
}


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):5.1f}%"


def _delta(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):+5.1f} pts"


def write_summary(tr: pytest.TerminalReporter, outcome: dict[str, Any], tolerance_points: float) -> None:
    """Per-field table, overall, exact cases, usage, the verdict and what caused it."""
    summary = outcome["summary"]
    comparison = outcome.get("comparison") or {}
    rows = comparison.get("fields", {})
    config = outcome["config"]
    tr.write_sep("=", "listingeval summary")
    tr.write_line(
        f"model {config['model']}  prompt {config['prompt_id']}  schema {config['schema_id']}  "
        f"cases {summary['cases']}  errors {summary['errors']}"
    )
    if outcome.get("baseline"):
        tr.write_line(
            f"baseline {outcome['baseline']['source']}  tolerance {tolerance_points:g} pts  "
            f"gate {comparison.get('mode')}"
        )
    header = f"{'field':<14}{'n':>5}{'accuracy':>10}{'95% CI':>16}"
    if rows:
        header += f"{'baseline':>10}{'delta':>11}{'flips -/+':>11}{'p':>8}"
    tr.write_line(header)
    for name, stats in summary["fields"].items():
        line = f"{name:<14}{stats['n']:>5}{_pct(stats['accuracy']):>10}"
        line += f"{_pct(stats['ci_low']).strip() + '-' + _pct(stats['ci_high']).strip():>16}"
        row = rows.get(name)
        if row:
            flips = f"{row['flipped_down']}/{row['flipped_up']}"
            line += f"{_pct(row['baseline']):>10}{_delta(row['delta']):>11}{flips:>11}{row['p_value']:>8.3f}"
        tr.write_line(line)
    overall = f"{'overall':<14}{'':>5}{_pct(summary['overall']):>10}{'':>16}"
    if comparison:
        o = comparison["overall"]
        overall += f"{_pct(o['baseline']):>10}{_delta(o['delta']):>11}"
    tr.write_line(overall)
    tr.write_line(f"{'exact cases':<14}{'':>5}{_pct(summary['exact_cases']):>10}")
    usage = summary["usage"]
    cost = summary.get("cost_usd")
    cost_text = f"  est. cost ${cost:.4f}" if cost is not None else ""
    tr.write_line(
        f"tokens in {usage['input_tokens']} out {usage['output_tokens']}{cost_text}  "
        f"p50 latency {summary['latency_ms']['p50']:.0f} ms"
    )
    if comparison:
        added, removed = comparison["added_cases"], comparison["removed_cases"]
        if added or removed:
            tr.write_line(f"cases added {len(added)}, removed {len(removed)} (not compared)")
    for error in outcome["harness_errors"]:
        tr.write_line(f"HARNESS ERROR {error}", red=True)
    for miss in outcome["critical_misses"]:
        tr.write_line(f"CRITICAL MISS {miss['case']}: {miss['field']}", red=True)
    for reg in outcome["regressions"]:
        tr.write_line(
            f"REGRESSION {reg['field']}: {_pct(reg['baseline']).strip()} -> {_pct(reg['current']).strip()}",
            red=True,
        )
    for item in outcome.get("inconclusive", []):
        tr.write_line(
            f"INCONCLUSIVE {item['field']}: dropped "
            f"{_pct(item['baseline']).strip()} -> {_pct(item['current']).strip()} "
            f"but p={item['p_value_drop']:.3f}: add repeats or cases",
            yellow=True,
        )
    if outcome.get("baseline_update"):
        tr.write_line(f"baseline: {outcome['baseline_update']}")
    for label, path in outcome.get("written", {}).items():
        tr.write_line(f"{label}: {path}")
    verdict = outcome["verdict"]
    tr.write_sep("=", f"listingeval verdict: {verdict.upper()}", **_COLOURS.get(verdict, {}))
