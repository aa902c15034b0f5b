"""Resolve the two sides of `listingeval runs compare` and compare them with the gate's engine.

A side is a JSON file (a run record or `--eval-json` results, or a baseline), a run id or
unique id prefix in the runs folder, or a git ref whose committed baseline is read. Each is
reduced to a `compare.Side` and the pair goes through `compare.compare_sides`, so every
number printed here is the number the gate would compute for the same two documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_listingeval.baseline import Baseline, BaselineError, load_baseline, parse_baseline
from pytest_listingeval.compare import Side, compare_sides, side_from_baseline, side_from_results
from pytest_listingeval.documents import DocumentError, parse_document, parse_results
from pytest_listingeval.outcome import Comparison, Coverage, FieldDelta, IncompleteRun, RunConfig, RunOutcome
from pytest_listingeval.runs import RunLookupError, find_run
from pytest_listingeval.runs_cli import ALPHA, shown_value

NAMES = ("A", "B")


class CompareError(Exception):
    """A side of the comparison cannot be found or read; the message is one line for a person."""


@dataclass(frozen=True)
class ResolvedSide:
    """One side as given on the command line: the engine's `Side` plus where it came from."""

    side: Side
    kind: str
    source: str
    time: str | None = None
    overall: float | None = None
    exact_cases: float | None = None
    coverage: Coverage | None = None

    @property
    def label(self) -> str:
        """The side's name in the output (run id, file stem or git ref)."""
        return self.side.label

    @property
    def config(self) -> RunConfig:
        """The side's run configuration."""
        return self.side.config

    def error_of(self, case: str) -> str | None:
        """The extraction error type of a case on this side, if it failed."""
        found = self.side.cases.get(case)
        return found.error if found is not None else None


@dataclass(frozen=True)
class RunsComparison:
    """Everything `runs compare` prints or renders: both sides and the engine's comparison."""

    a: ResolvedSide
    b: ResolvedSide
    comparison: Comparison

    def rows(self) -> list[tuple[str, FieldDelta]]:
        """Per-field rows, then overall and exact cases, as the gate computed them."""
        result = self.comparison
        return [*result.fields.items(), ("overall", result.overall), ("exact cases", result.exact_cases)]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shown_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, else as given."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def side_from_outcome(document: RunOutcome, label: str, source: str) -> ResolvedSide:
    """A run record or results JSON as one comparison side."""
    return ResolvedSide(
        side=side_from_results(label, document.config, document.cases),
        kind="run",
        source=source,
        time=document.run.time or None,
        overall=document.summary.overall,
        exact_cases=document.summary.exact_cases,
        coverage=document.coverage if document.partial else None,
    )


def side_from_committed(baseline: Baseline, label: str) -> ResolvedSide:
    """A baseline document as one comparison side."""
    document = baseline.document
    return ResolvedSide(
        side=side_from_baseline(label, document),
        kind="baseline",
        source=baseline.source,
        overall=document.summary.overall,
        exact_cases=document.summary.exact_cases,
    )


def parse_side(text: str, label: str, source: str) -> ResolvedSide:
    """A side from a document's text: a baseline (cases by id) or a run's results (a case list)."""
    try:
        data = parse_document(text, source)
        if isinstance(data.get("cases"), dict):
            return side_from_committed(parse_baseline(text, source), label)
        document = parse_results(text, source)
    except (DocumentError, BaselineError) as exc:
        raise CompareError(_one_line(str(exc))) from exc
    if isinstance(document, IncompleteRun):
        raise CompareError(
            f"{source} is the results of run {document.run.id} (started {document.run.time}), which never "
            'finished (verdict "incomplete": it died or is still running); there is nothing to compare'
        )
    return side_from_outcome(document, label, source)


def _from_file(path: Path, label: str) -> ResolvedSide:
    shown = _shown_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(_one_line(f"cannot read {shown}: {exc}")) from exc
    return parse_side(text, label, shown)


def resolve_side(spec: str, runs_dir: Path, root: Path, baseline_path: Path) -> ResolvedSide:
    """A JSON file, else a run id or unique id prefix in runs_dir, else a git ref's baseline."""
    path = Path(spec)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise CompareError(f"file {spec} not found")
        return _from_file(path, path.stem)
    try:
        record = find_run(runs_dir, spec)
    except RunLookupError as exc:
        raise CompareError(_one_line(str(exc))) from exc
    if record is not None:
        return _from_file(record, record.stem)
    try:
        baseline = load_baseline(spec, root, baseline_path)
    except BaselineError as exc:
        raise CompareError(
            _one_line(f"{spec!r} is not a file or a run id in {runs_dir}, and as a git ref: {exc}")
        ) from exc
    return side_from_committed(baseline, spec)


def compare_runs(a: ResolvedSide, b: ResolvedSide) -> RunsComparison:
    """Compare B with A through the gate's engine (A is the reference, as the baseline is)."""
    return RunsComparison(a=a, b=b, comparison=compare_sides(a.side, b.side, names=NAMES))


def _side_json(side: ResolvedSide) -> dict[str, Any]:
    config = side.config
    return {
        "label": side.label,
        "kind": side.kind,
        "source": side.source,
        "time": side.time,
        "config": {
            "model": config.model,
            "prompt": config.prompt,
            "prompt_id": config.prompt_id,
            "schema_id": config.schema_id,
            "git_sha": config.git_sha,
            "repeat": config.repeat,
        },
        "cases": len(side.side.cases),
        "overall": side.overall,
        "exact_cases": side.exact_cases,
    }


def comparison_json(result: RunsComparison) -> dict[str, Any]:
    """A JSON-able view: both sides and the engine's `Comparison` exactly as the gate has it."""
    return {
        "a": _side_json(result.a),
        "b": _side_json(result.b),
        "alpha": ALPHA,
        "comparison": result.comparison.model_dump(mode="json"),
    }


def render_compare_html(result: RunsComparison) -> str:
    """The comparison as one self-contained HTML page (autoescaped, inline CSS)."""
    # Imported here: the report package is only needed for --html.
    from pytest_listingeval.report.html import environment

    rows = [{"name": name, **row.model_dump(mode="json")} for name, row in result.rows()]
    flips = [
        {
            **flip.model_dump(mode="json"),
            "a_value": shown_value(flip.baseline_actual, result.a.error_of(flip.case)),
            "b_value": shown_value(flip.current_actual, result.b.error_of(flip.case)),
        }
        for flip in result.comparison.flips
    ]
    template = environment().get_template("compare.html.j2")
    return template.render(cmp=comparison_json(result), rows=rows, flips=flips, alpha=ALPHA)
