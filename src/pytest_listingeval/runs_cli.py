"""`listingeval runs list` and `listingeval runs compare`: browse and compare eval run records."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_listingeval.project import project_root
from pytest_listingeval.runs import RunSummary, filter_runs, scan_runs
from pytest_listingeval.safe_text import terminal_safe

if TYPE_CHECKING:
    from pytest_listingeval.outcome import ConfigChanges, FieldDelta, Relabel
    from pytest_listingeval.runs_compare import ResolvedSide, RunsComparison

EXIT_OK = 0
EXIT_BAD_INPUT = 2
DASH = "\u2013"
ALPHA = 0.05


def clean(text: str) -> str:
    """The text without terminal escape sequences or control characters: document text is untrusted."""
    return terminal_safe(text)


def _warn(message: str) -> None:
    print(f"listingeval: warning: {message}", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"listingeval: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _runs_dir(args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    root, table = project_root(Path.cwd())
    runs_dir = Path(args.dir) if args.dir else root / str(table.get("runs", "reports/runs"))
    return runs_dir, root, table


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}"


def _points(delta: float) -> str:
    pts = delta * 100
    return "0.0" if abs(pts) < 0.05 else f"{pts:+.1f}"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def format_runs(runs: list[RunSummary]) -> str:
    """The `runs list` table: one run per row, accuracies in percent."""
    fields = sorted({name for run in runs for name in run.fields})
    header = ["time", "run", "model", "prompt", "overall", *fields, "cases", "errors", "cost", "verdict"]
    rows = []
    for run in runs:
        cost = DASH if run.cost_usd is None else f"${run.cost_usd:.4f}"
        rows.append(
            [
                run.time[:16].replace("T", " "),
                run.id,
                run.model or DASH,
                run.prompt_id or run.prompt or DASH,
                _pct(run.overall),
                *(_pct(run.fields.get(name)) for name in fields),
                DASH if run.cases is None else str(run.cases),
                DASH if run.errors is None else str(run.errors),
                cost,
                run.verdict or DASH,
            ]
        )
    right = set(range(4, len(header) - 1))
    return _table(header, [[clean(c) for c in row] for row in rows], right)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the run records, newest first, as a table or JSON."""
    runs_dir, _, _ = _runs_dir(args)
    if args.limit is not None and args.limit < 0:
        return _fail("--limit must be zero or more")
    if not runs_dir.is_dir():
        return _fail(f"no runs folder at {runs_dir} (run `pytest -m eval` first, or pass --dir)")
    runs = filter_runs(scan_runs(runs_dir, _warn), model=args.model, prompt=args.prompt)
    if args.limit is not None:
        runs = runs[: args.limit]
    if args.json:
        json.dump([r.to_json() for r in runs], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif runs:
        print(format_runs(runs))
    else:
        print(f"no run records in {runs_dir}" + (" match" if args.model or args.prompt else ""))
    return EXIT_OK


def _side_line(name: str, side: ResolvedSide) -> str:
    config = side.config
    when = f", {side.time}" if side.time else ""
    repeats = f", {config.repeat} repeats" if config.repeat > 1 else ""
    score = f", overall {_pct(side.overall)}% on {len(side.side.cases)} cases" if side.overall is not None else ""
    coverage = side.coverage
    partial = f"; a PARTIAL run ({coverage.selected} of {coverage.case_set} cases)" if coverage else ""
    return (
        f"{name}: {side.label} ({side.kind} {side.source}{when}) "
        f"model {config.model or DASH}, prompt {config.prompt_id or DASH}{repeats}{score}{partial}"
    )


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def shown_value(value: Any, error: str | None = None) -> str:
    """A field's value (or a check spec) as text; a failed extraction says so."""
    if error is not None:
        return f"error: {error}"
    if value is None:
        return "null"
    return value if isinstance(value, str) else _json_text(value)


def _change_lines(changes: ConfigChanges) -> list[str]:
    lines = []
    for pair, label in ((changes.model, "model"), (changes.prompt_id, "prompt"), (changes.schema_id, "schema")):
        if pair:
            lines.append(f"  {label}: {pair[0]} -> {pair[1]}")
    lines += [f"  schema: {note}" for note in changes.schema_changes]
    for key, (old, new) in changes.params.items():
        lines.append(f"  param {key}: {_json_text(old)} -> {_json_text(new)}")
    if changes.prompt_diff:
        lines.append("  prompt text diff:")
        lines += [f"    {line}" for line in changes.prompt_diff.rstrip("\n").split("\n")]
    return lines or ["  nothing: same model, prompt text, schema and parameters"]


def _stat_row(name: str, row: FieldDelta) -> list[str]:
    return [
        name,
        f"{row.baseline * 100:.1f}",
        f"{row.current * 100:.1f}",
        _points(row.delta),
        str(row.n),
        str(row.flipped_down),
        str(row.flipped_up),
        f"{row.p_value:.3f}" + (" *" if row.p_value < ALPHA else ""),
    ]


def _indented(header: list[str] | None, rows: list[list[str]], right: set[int] | None = None) -> list[str]:
    """A table indented by two spaces; without a header only its rows."""
    lines = _table(header or [""] * len(rows[0]), [[clean(c) for c in r] for r in rows], right or set()).split("\n")
    return ["  " + line for line in (lines if header else lines[1:])]


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(ids) or "none"


def _flip_lines(result: RunsComparison) -> list[str]:
    flips = result.comparison.flips
    rows = [
        [
            f.direction,
            f.case,
            f.field,
            f"{shown_value(f.baseline_actual, result.a.error_of(f.case))} -> "
            f"{shown_value(f.current_actual, result.b.error_of(f.case))}",
        ]
        for f in flips
    ]
    return [f"Flipped cases ({len(flips)}):", *(_indented(None, rows) if rows else ["  none"])]


def _relabel_lines(relabels: tuple[Relabel, ...]) -> list[str]:
    rows = []
    for relabel in relabels:
        rows += [[relabel.case, name, " -> ".join(relabel.shown(name, shown_value))] for name in relabel.fields]
        if relabel.critical_changed:
            rows.append([relabel.case, "(critical)", "the critical fields changed"])
    if not rows:
        return [f"Relabelled cases ({len(relabels)}):", "  none"]
    note = "  (expectations changed from A to B: A's outputs were re-scored against B's, as the gate does)"
    return [f"Relabelled cases ({len(relabels)}):", *_indented(None, rows), note]


def format_comparison(result: RunsComparison) -> str:
    """The text `runs compare` prints: what changed, per-field deltas, flips, relabels, left-out cases."""
    comparison = result.comparison
    out = [_side_line("A", result.a), _side_line("B", result.b), "", "What changed (A -> B):"]
    out += _change_lines(comparison.config_changes)
    out += ["", f"Accuracy on the {comparison.shared_cases} cases both runs scored (%, delta in points):"]
    header = ["field", "A", "B", "delta", "n", "A>B", "B>A", "p"]
    out += _indented(header, [_stat_row(name, row) for name, row in result.rows()], set(range(1, 8)))
    out.append(f"  A>B: right in A, wrong in B (with repeats: a lower pass rate in B).  * p < {ALPHA}")
    out.append(
        "  p: exact McNemar on 0/1 scores, a paired bootstrap over cases when a run has repeats; "
        "overall resamples whole cases"
    )
    out += ["", *_flip_lines(result), *_relabel_lines(comparison.relabels)]
    out.append(
        "Not re-scorable, left out (a changed judge rubric, a custom check registered only in a conftest.py, "
        f"or no stored output): {_ids(comparison.unscorable_cases)}"
    )
    out.append(f"Harness errors, left out (the harness could not run them in A or B): {_ids(comparison.errored_cases)}")
    out.append(f"Added cases (only in B): {_ids(comparison.added_cases)}")
    out.append(f"Removed cases (only in A): {_ids(comparison.removed_cases)}")
    return "\n".join(clean(line) for line in out)


def _write_html(path: Path, result: RunsComparison) -> str | None:
    from pytest_listingeval.runs_compare import render_compare_html

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_compare_html(result), encoding="utf-8")
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two runs and print (and optionally render) what changed and what it did."""
    # Imported here: `runs list` must start fast and does not need the comparison machinery.
    from pytest_listingeval.runs_compare import CompareError, compare_runs, comparison_json, resolve_side

    runs_dir, root, table = _runs_dir(args)
    baseline_path = root / str(table.get("baseline", "reports/baseline.json"))
    try:
        a = resolve_side(args.a, runs_dir, root, baseline_path)
        b = resolve_side(args.b, runs_dir, root, baseline_path)
    except CompareError as exc:
        return _fail(str(exc))
    result = compare_runs(a, b)
    if args.html and (problem := _write_html(Path(args.html), result)):
        return _fail(problem)
    if args.json:
        # ASCII only: model text may hold C1 controls that a terminal would act on.
        json.dump(comparison_json(result), sys.stdout, indent=2, ensure_ascii=True)
        sys.stdout.write("\n")
        return EXIT_OK
    print(format_comparison(result))
    if args.html:
        print(clean(f"HTML comparison: {args.html}"))
    return EXIT_OK


def _pipe_safe(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command so `| head` closing the pipe ends it quietly instead of with a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK

    return run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `runs list` and `runs compare` to the `listingeval` command."""
    runs = sub.add_parser("runs", help="list and compare eval run records (reports/runs/)")
    commands = runs.add_subparsers(dest="runs_command", required=True)
    lister = commands.add_parser("list", help="table of eval runs, newest first")
    lister.add_argument("--dir", help="runs folder (default: [tool.listingeval] runs or reports/runs)")
    lister.add_argument("--limit", type=int, default=20, help="show at most N runs (default 20)")
    lister.add_argument("--model", help="only runs of this model (glob, e.g. 'gpt-4.1*')")
    lister.add_argument("--prompt", help="only runs of this prompt name or prompt id (glob)")
    lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lister.set_defaults(func=_pipe_safe(cmd_list))
    comparer = commands.add_parser(
        "compare",
        help="what changed between two runs and what it did to each field",
        description="A and B: a run id or unique prefix, a git ref (its committed baseline), "
        "or a JSON file (run record, --eval-json output or baseline).",
    )
    comparer.add_argument("a", metavar="A", help="the reference run")
    comparer.add_argument("b", metavar="B", help="the run compared with A")
    comparer.add_argument("--html", metavar="PATH", help="also write a self-contained HTML page")
    comparer.add_argument("--json", action="store_true", help="print the comparison as JSON instead of text")
    comparer.add_argument("--dir", help="runs folder (default: [tool.listingeval] runs or reports/runs)")
    comparer.set_defaults(func=_pipe_safe(cmd_compare))
