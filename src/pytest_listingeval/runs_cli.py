"""`listingeval runs list` and `listingeval runs compare`: browse and compare eval run records."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_listingeval.runs import RunSummary, filter_runs, scan_runs

if TYPE_CHECKING:
    from pytest_listingeval.runs_compare import Comparison, Row, RunSide

EXIT_OK = 0
EXIT_BAD_INPUT = 2
DASH = "\u2013"


def _warn(message: str) -> None:
    print(f"listingeval: warning: {message}", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"listingeval: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def project_root(start: Path) -> tuple[Path, dict[str, Any]]:
    """The nearest folder holding a pyproject.toml with `[tool.listingeval]`, and that table."""
    for folder in (start, *start.parents):
        path = folder / "pyproject.toml"
        if path.is_file():
            try:
                table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if isinstance(table.get("listingeval"), dict):
                return folder, table["listingeval"]
    return start, {}


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
    return _table(header, rows, right)


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


def _side_line(name: str, side: RunSide) -> str:
    config = side.config
    when = f", {side.time}" if side.time else ""
    overall = side.summary.get("overall")
    score = f", overall {_pct(overall)}% on {len(side.cases)} cases" if overall is not None else ""
    return (
        f"{name}: {side.label} ({side.kind} {side.source}{when}) "
        f"model {config.get('model') or DASH}, prompt {config.get('prompt_id') or DASH}{score}"
    )


def _change_lines(changes: dict[str, Any]) -> list[str]:
    lines = []
    for key, label in (("model", "model"), ("prompt_id", "prompt"), ("schema_id", "schema")):
        if changes.get(key):
            old, new = changes[key]
            lines.append(f"  {label}: {old} -> {new}")
    lines += [f"  schema: {note}" for note in changes.get("schema_changes") or []]
    for key, (old, new) in (changes.get("params") or {}).items():
        lines.append(f"  param {key}: {json.dumps(old)} -> {json.dumps(new)}")
    if changes.get("prompt_diff"):
        lines.append("  prompt text diff:")
        lines += [f"    {line}" for line in changes["prompt_diff"].rstrip("\n").split("\n")]
    return lines or ["  nothing: same model, prompt text, schema and parameters"]


def _stat_row(row: Row, alpha: float) -> list[str]:
    return [
        row.name,
        f"{row.a * 100:.1f}",
        f"{row.b * 100:.1f}",
        _points(row.delta),
        str(row.n),
        str(row.flipped_down),
        str(row.flipped_up),
        f"{row.p_value:.3f}" + (" *" if row.p_value < alpha else ""),
    ]


def format_comparison(result: Comparison) -> str:
    """The text `runs compare` prints: what changed, per-field deltas, flips, added/removed."""
    from pytest_listingeval.runs_compare import ALPHA

    out = [_side_line("A", result.a), _side_line("B", result.b), "", "What changed (A -> B):"]
    out += _change_lines(result.changes)
    out += ["", f"Accuracy on the {result.shared} cases in both runs (%, delta in points):"]
    header = ["field", "A", "B", "delta", "n", "A>B", "B>A", "p (McNemar)"]
    rows = [_stat_row(r, ALPHA) for r in [*result.fields, result.overall, result.exact]]
    out += ["  " + line for line in _table(header, rows, set(range(1, 7))).split("\n")]
    out.append(f"  A>B: right in A, wrong in B.  * p < {ALPHA}")
    if result.case_set_differs:
        out.append("  note: the case sets differ (expected values changed between the runs)")
    out += ["", f"Flipped cases ({len(result.flips)}):"]
    flips = [[f.direction, f.case, f.field, f"{f.a_value} -> {f.b_value}"] for f in result.flips]
    if flips:
        out += ["  " + line for line in _table(["", "case", "field", "A -> B"], flips, set()).split("\n")[1:]]
    else:
        out.append("  none")
    out.append(f"Added cases (only in B): {', '.join(result.added) or 'none'}")
    out.append(f"Removed cases (only in A): {', '.join(result.removed) or 'none'}")
    return "\n".join(out)


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two runs and print (and optionally render) what changed and what it did."""
    # Imported here: `runs list` must start fast and does not need the comparison machinery.
    from pytest_listingeval.runs_compare import (
        CompareError,
        compare_runs,
        render_compare_html,
        resolve_side,
    )

    runs_dir, root, table = _runs_dir(args)
    baseline_path = root / str(table.get("baseline", "reports/baseline.json"))
    try:
        a = resolve_side(args.a, runs_dir, root, baseline_path)
        b = resolve_side(args.b, runs_dir, root, baseline_path)
    except CompareError as exc:
        return _fail(str(exc))
    result = compare_runs(a, b)
    if args.html:
        path = Path(args.html)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_compare_html(result), encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {path}: {exc}")
    print(format_comparison(result))
    if args.html:
        print(f"HTML comparison: {args.html}")
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
    comparer.add_argument("--dir", help="runs folder (default: [tool.listingeval] runs or reports/runs)")
    comparer.set_defaults(func=_pipe_safe(cmd_compare))
