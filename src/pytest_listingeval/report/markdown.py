"""Render the eval results as a compact Markdown PR comment and a GitHub step summary."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report import view
from pytest_listingeval.report.changes import config_changes
from pytest_listingeval.report.gate_view import flaky_views, gate_info, inconclusive_views

MAX_FLIPS = 10
MAX_FLAKY = 10
_CELL_LIMIT = 80


def escape_cell(value: object, limit: int = _CELL_LIMIT) -> str:
    """Make text safe inside a Markdown table cell: escape pipes, fold newlines, cut long text."""
    text = str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return escape_inline(text).replace("|", "\\|")


def escape_inline(value: object) -> str:
    """Neutralise characters GitHub would read as HTML or code markup in running text."""
    text = " ".join(str(value).split())
    return (
        text.replace("\\", "\\\\")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("`", "\\`")
        .replace("*", "\\*")
        .replace("[", "\\[")
        .replace("]", "\\]")
    )


def _verdict_line(results: Mapping[str, Any]) -> str:
    verdict = str(results.get("verdict") or "unknown")
    head = f"**listingeval: {verdict}**"
    unsure = [v.sentence(escape_inline) for v in inconclusive_views(results)]
    parts = []
    for reg in results.get("regressions") or []:
        base, cur = reg.get("baseline"), reg.get("current")
        delta = cur - base if isinstance(cur, int | float) and isinstance(base, int | float) else None
        parts.append(f"{escape_inline(reg.get('field'))} ({fmt.points(delta, '-')} pts)")
    misses = results.get("critical_misses") or []
    if parts:
        head += " on " + ", ".join(parts)
    if unsure and verdict == "inconclusive":
        head += " (the gate passes): " + "; ".join(unsure)
    elif unsure:
        head += "; inconclusive: " + "; ".join(unsure)
    if misses:
        shown = ", ".join(f"{escape_inline(m.get('case'))} ({escape_inline(m.get('field'))})" for m in misses[:5])
        more = f" and {len(misses) - 5} more" if len(misses) > 5 else ""
        head += f"; critical misses: {shown}{more}"
    errors = results.get("harness_errors") or []
    if errors:
        head += f"; {len(errors)} harness error{'s' if len(errors) != 1 else ''}"
    summary = results.get("summary") or {}
    head += f". Overall {fmt.pct(summary.get('overall'))}"
    baseline = results.get("baseline")
    if baseline:
        head += f" vs {fmt.pct(baseline.get('overall'))} on {escape_inline(baseline.get('source'))}"
    return head + "."


def _config_line(results: Mapping[str, Any]) -> str:
    config = results.get("config") or {}
    changes = config_changes(results)

    def part(label: str, pair: tuple[str, str] | None, current: object) -> str:
        if pair:
            return f"{label} {escape_inline(pair[0])} \u2192 **{escape_inline(pair[1])}**"
        return f"{label} {escape_inline(current or 'unknown')}"

    parts = [
        part("model", changes.model if changes else None, config.get("model")),
        part("prompt", changes.prompt_id if changes else None, config.get("prompt_id")),
        f"schema {escape_inline(config.get('schema_id') or 'unknown')}",
    ]
    if changes and changes.schema_changes:
        count = len(changes.schema_changes)
        parts[-1] += f" ({count} change{'s' if count != 1 else ''})"
    if changes and changes.params:
        parts.append(
            "params "
            + ", ".join(
                f"{escape_inline(n)} {escape_inline(o)} \u2192 {escape_inline(v)}" for n, o, v in changes.params
            )
        )
    return " \u00b7 ".join(parts)


def _table(results: Mapping[str, Any]) -> list[str]:
    rows = view.field_rows(results) + view.aggregate_rows(results)
    gate = gate_info(results)
    lines = []
    if gate.explicit or gate.repeats > 1:
        lines += [f"{escape_inline(gate.caption)}. {escape_inline(gate.p_note)}", ""]
    lines += [
        f"| field | baseline | current | \u0394 pts | flips \u2193/\u2191 | {gate.p_label} | 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = escape_cell(row.name)
        if row.regressed:
            name = f"**{name}**"
        elif row.inconclusive:
            name = f"_{name}_ (inconclusive)"
        flips = (
            f"{row.flipped_down}/{row.flipped_up}"
            if row.flipped_down is not None or row.flipped_up is not None
            else "\u2013"
        )
        delta = fmt.points(row.delta, "-") if row.baseline is not None else "\u2013"
        lines.append(
            f"| {name} | {fmt.pct(row.baseline)} | {fmt.pct(row.current)} | {delta} | {flips} "
            f"| {fmt.p_value(row.p_shown)}{' (sig.)' if row.significant else ''} "
            f"| {fmt.interval(row.ci_low, row.ci_high)} |"
        )
    return lines


def _flips(results: Mapping[str, Any]) -> list[str]:
    flips = list((results.get("comparison") or {}).get("flips") or [])
    if not flips:
        return []
    flips.sort(key=lambda f: 0 if f.get("direction") == "down" else 1)
    lines = [f"**Flipped cases** ({len(flips)}):", ""]
    for flip in flips[:MAX_FLIPS]:
        word = "regressed" if flip.get("direction") == "down" else "improved"
        before = escape_cell(fmt.value_text(flip.get("baseline_actual")), 60)
        after = escape_cell(fmt.value_text(flip.get("current_actual")), 60)
        lines.append(
            f"- {word}: {escape_inline(flip.get('case'))}, {escape_inline(flip.get('field'))}: {before} \u2192 {after}"
        )
    if len(flips) > MAX_FLIPS:
        lines.append(f"- \u2026 and {len(flips) - MAX_FLIPS} more in the full report")
    return lines


def _flaky(results: Mapping[str, Any]) -> str | None:
    flaky = flaky_views(results)
    if not flaky:
        return None
    shown = ", ".join(f"{escape_inline(f.case)}: {escape_inline(f.field)} ({f.rate})" for f in flaky[:MAX_FLAKY])
    more = f" and {len(flaky) - MAX_FLAKY} more" if len(flaky) > MAX_FLAKY else ""
    return f"**Flaky ({len(flaky)}):** {shown}{more}"


def _totals(results: Mapping[str, Any]) -> str:
    summary = results.get("summary") or {}
    usage = summary.get("usage") or {}
    total = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
    comparison = results.get("comparison") or {}
    repeats = gate_info(results).repeats
    parts = [
        f"{summary.get('cases', len(results.get('cases') or []))} cases"
        + (f" \u00d7 {repeats} repeats" if repeats > 1 else ""),
        f"{summary.get('errors', 0)} errors",
        f"{fmt.tokens(total)} tokens",
        f"est. cost {fmt.cost(summary.get('cost_usd'))}",
    ]
    if comparison:
        parts.append(
            f"{len(comparison.get('added_cases') or [])} added, "
            f"{len(comparison.get('removed_cases') or [])} removed cases"
        )
    return "Totals: " + " \u00b7 ".join(parts)


def render_markdown(results: Mapping[str, Any], report_url: str | None = None) -> str:
    """Render the results as a compact Markdown PR comment, linking the HTML report if given."""
    lines = [_verdict_line(results), "", _config_line(results), ""]
    errors = results.get("harness_errors") or []
    if errors:
        lines += ["**Harness errors:**", ""]
        lines += [f"- {escape_inline(e)}" for e in errors[:MAX_FLIPS]]
        lines.append("")
    lines += [*_table(results), ""]
    flips = _flips(results)
    if flips:
        lines += [*flips, ""]
    flaky = _flaky(results)
    if flaky:
        lines += [flaky, ""]
    lines.append(_totals(results))
    if report_url:
        lines += ["", f"[Full HTML report]({report_url.replace(')', '%29')})"]
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str) -> None:
    """Append Markdown to the file named by $GITHUB_STEP_SUMMARY, when that variable is set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
