"""Render the run's outcome as a compact Markdown PR comment (also the GitHub step summary)."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report import run_view, table_view
from pytest_listingeval.report.changes import changes_view
from pytest_listingeval.report.escaping import escape_cell, escape_inline
from pytest_listingeval.report.gate_view import flaky_views, gate_info, inconclusive_views
from pytest_listingeval.report.run_view import IdList, plural

MAX_FLIPS = 10
MAX_FLAKY = 10
MAX_IDS = 20
SPEC_LIMIT = 160


def _verdict_line(outcome: RunOutcome) -> str:
    coverage = run_view.coverage_view(outcome)
    head = f"**listingeval: {outcome.verdict}{f' ({coverage.label})' if coverage else ''}**"
    unsure = [v.sentence(escape_inline) for v in inconclusive_views(outcome)]
    parts = [f"{escape_inline(r.field)} ({fmt.points(r.delta, '-')} pts)" for r in outcome.regressions]
    if parts:
        head += " on " + ", ".join(parts)
    if unsure and outcome.verdict == "inconclusive":
        head += " (the gate passes): " + "; ".join(unsure)
    elif unsure:
        head += "; inconclusive: " + "; ".join(unsure)
    misses = outcome.critical_misses
    if misses:
        shown = ", ".join(f"{escape_inline(m.case)} ({escape_inline(m.field)})" for m in misses[:5])
        more = f" and {len(misses) - 5} more" if len(misses) > 5 else ""
        head += f"; critical misses: {shown}{more}"
    if outcome.harness_errors:
        head += f"; {plural(len(outcome.harness_errors), 'harness error')}"
    relabels = run_view.relabel_views(outcome)
    if relabels:
        head += f"; {plural(len(relabels), 'case')} relabelled"
    head += f". Overall {fmt.pct(outcome.summary.overall)}"
    if outcome.baseline:
        overall = outcome.comparison.overall.baseline if outcome.comparison else outcome.baseline.overall
        head += f" vs {fmt.pct(overall)} on {escape_inline(outcome.baseline.source)}"
    return head + "."


def _config_line(outcome: RunOutcome) -> str:
    config = outcome.config
    changes = changes_view(outcome)

    def part(label: str, pair: tuple[str, str] | None, current: str) -> str:
        if pair:
            return f"{label} {escape_inline(pair[0])} \u2192 **{escape_inline(pair[1])}**"
        return f"{label} {escape_inline(current or 'unknown')}"

    parts = [
        part("model", changes.model if changes else None, config.model),
        part("prompt", changes.prompt_id if changes else None, config.prompt_id),
        part("schema", changes.schema_id if changes else None, config.schema_id),
    ]
    if changes and changes.schema_changes:
        parts[-1] += f" ({plural(len(changes.schema_changes), 'change')})"
    if changes and changes.params:
        shown = ", ".join(
            f"{escape_inline(n)} {escape_inline(o)} \u2192 {escape_inline(v)}" for n, o, v in changes.params
        )
        parts.append("params " + shown)
    return " \u00b7 ".join(parts)


def _table(outcome: RunOutcome) -> list[str]:
    gate = gate_info(outcome)
    lines = []
    if gate.shown:
        lines += [f"{escape_inline(gate.caption)}. {escape_inline(gate.p_note)}", ""]
    lines += [
        f"| field | baseline | current | \u0394 pts | flips \u2193/\u2191 | {gate.p_label} | 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table_view.field_rows(outcome) + table_view.aggregate_rows(outcome):
        name = escape_cell(row.name)
        if row.regressed:
            name = f"**{name}**"
        elif row.inconclusive:
            name = f"_{name}_ (inconclusive)"
        flips = f"{row.flipped_down}/{row.flipped_up}" if row.flipped_down is not None else "\u2013"
        delta = fmt.points(row.delta, "-") if row.baseline is not None else "\u2013"
        lines.append(
            f"| {name} | {fmt.pct(row.baseline)} | {fmt.pct(row.current)} | {delta} | {flips} "
            f"| {fmt.p_value(row.p_shown)}{' (sig.)' if row.significant else ''} "
            f"| {fmt.interval(row.ci_low, row.ci_high)} |"
        )
    return lines


def _ids(item: IdList) -> str:
    shown, more = item.head(MAX_IDS)
    text = ", ".join(escape_inline(cid) for cid in shown)
    return f"- {item.label} ({len(item.ids)}): {text}{f' and {more} more' if more else ''}"


def _coverage(outcome: RunOutcome) -> list[str]:
    coverage = run_view.coverage_view(outcome)
    if coverage is None:
        return []
    head = f"**Partial run:** {coverage.selected} of {plural(coverage.case_set, 'case')} of the case set ran."
    return [head, "", *(_ids(item) for item in coverage.lists)]


def _relabels(outcome: RunOutcome) -> list[str]:
    relabels = run_view.relabel_views(outcome)
    if not relabels:
        return []
    lines = [
        f"**Relabelled cases** ({len(relabels)}): expected values changed since the baseline; "
        "its stored answers were re-scored against the new labels.",
        "",
    ]
    for relabel in relabels:
        changes = "; ".join(
            f"{escape_inline(c.field)}: {escape_cell(c.before, SPEC_LIMIT)} \u2192 {escape_cell(c.after, SPEC_LIMIT)}"
            for c in relabel.changes
        )
        notes = [changes] if changes else []
        if relabel.critical_changed:
            notes.append("critical fields changed")
        lines.append(f"- {escape_inline(relabel.case)}: {'; '.join(notes) or 'expectations changed'}")
    return lines


def _not_compared(outcome: RunOutcome) -> list[str]:
    lists = run_view.not_compared(outcome)
    return ["**Not compared:**", "", *(_ids(item) for item in lists)] if lists else []


def _flips(outcome: RunOutcome) -> list[str]:
    if outcome.comparison is None or not outcome.comparison.flips:
        return []
    flips = sorted(outcome.comparison.flips, key=lambda f: 0 if f.direction == "down" else 1)
    lines = [f"**Flipped cases** ({len(flips)}):", ""]
    for flip in flips[:MAX_FLIPS]:
        word = "regressed" if flip.direction == "down" else "improved"
        before = escape_cell(fmt.value_text(flip.baseline_actual), 60)
        after = escape_cell(fmt.value_text(flip.current_actual), 60)
        lines.append(f"- {word}: {escape_inline(flip.case)}, {escape_inline(flip.field)}: {before} \u2192 {after}")
    if len(flips) > MAX_FLIPS:
        lines.append(f"- \u2026 and {len(flips) - MAX_FLIPS} more in the full report")
    return lines


def _flaky(outcome: RunOutcome) -> list[str]:
    flaky = flaky_views(outcome)
    if not flaky:
        return []
    shown = ", ".join(f"{escape_inline(f.case)}: {escape_inline(f.field)} ({f.rate})" for f in flaky[:MAX_FLAKY])
    more = f" and {len(flaky) - MAX_FLAKY} more" if len(flaky) > MAX_FLAKY else ""
    return [f"**Flaky ({len(flaky)}):** {shown}{more}"]


def _harness_errors(outcome: RunOutcome) -> list[str]:
    errors = outcome.harness_errors
    if not errors:
        return []
    lines = ["**Harness errors:**", "", *(f"- {escape_inline(e)}" for e in errors[:MAX_FLIPS])]
    if len(errors) > MAX_FLIPS:
        lines.append(f"- \u2026 and {len(errors) - MAX_FLIPS} more")
    return lines


def _judge_warnings(outcome: RunOutcome) -> list[str]:
    warnings = run_view.judge_warnings(outcome)
    if not warnings:
        return []
    head = "**Judge calibration** (warnings; the gate does not read them):"
    return [head, "", *(f"- {escape_inline(w)}" for w in warnings)]


def _totals(outcome: RunOutcome) -> str:
    summary = outcome.summary
    repeats = gate_info(outcome).repeats
    parts = [
        plural(summary.cases, "case") + (f" \u00d7 {repeats} repeats" if repeats > 1 else ""),
        run_view.error_counts(outcome),
        f"{fmt.tokens(summary.usage.input_tokens + summary.usage.output_tokens)} tokens",
        f"est. cost {fmt.cost(summary.cost_usd)}",
    ]
    if outcome.comparison:
        comparison = outcome.comparison
        parts.append(f"{len(comparison.added_cases)} added, {len(comparison.removed_cases)} removed cases")
    return "Totals: " + " \u00b7 ".join(parts)


def _blocks(blocks: Sequence[list[str]]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        if block:
            lines += [*block, ""]
    return lines


def _policy(outcome: RunOutcome) -> list[str]:
    changed = run_view.policy_change_text(outcome)
    return [f"**{escape_inline(changed[0].upper() + changed[1:])}**"] if changed else []


def render_markdown(outcome: RunOutcome, report_url: str | None = None) -> str:
    """Render the outcome as a compact Markdown PR comment, linking the HTML report if given."""
    lines = _blocks(
        [
            [_verdict_line(outcome)],
            [_config_line(outcome)],
            _policy(outcome),
            _harness_errors(outcome),
            _coverage(outcome),
            _table(outcome),
            _relabels(outcome),
            _not_compared(outcome),
            _flips(outcome),
            _flaky(outcome),
            _judge_warnings(outcome),
        ]
    )
    lines.append(_totals(outcome))
    if report_url:
        lines += ["", f"[Full HTML report]({report_url.replace(')', '%29')})"]
    return "\n".join(lines) + "\n"


__all__ = ["MAX_FLAKY", "MAX_FLIPS", "escape_cell", "escape_inline", "render_markdown"]
