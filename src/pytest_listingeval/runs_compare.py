"""Compare two eval runs (run records, results JSON, baselines or git refs) field by field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_listingeval.baseline import BaselineError, load_baseline
from pytest_listingeval.gate import config_changes
from pytest_listingeval.runs import NotARunRecord, RunLookupError, find_run, read_record
from pytest_listingeval.stats import compare_field

ALPHA = 0.05


class CompareError(Exception):
    """A side of the comparison cannot be found or read; the message is one line for a person."""


@dataclass(frozen=True)
class CaseScores:
    """One case of one run: its error type (if any) and per-field score and actual value."""

    error: str | None
    scores: dict[str, int]
    actual: dict[str, Any]


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison, whatever document it came from."""

    label: str
    kind: str
    source: str
    config: dict[str, Any]
    cases: dict[str, CaseScores]
    summary: dict[str, Any] = field(default_factory=dict)
    time: str | None = None
    case_set: str | None = None


@dataclass(frozen=True)
class Row:
    """Accuracy of A and B on the pairs both scored, with flips and the McNemar p-value."""

    name: str
    a: float
    b: float
    delta: float
    n: int
    flipped_down: int
    flipped_up: int
    p_value: float


@dataclass(frozen=True)
class Flip:
    """A (case, field) scored differently: `down` is right in A and wrong in B."""

    case: str
    field: str
    direction: str
    a_value: str
    b_value: str


@dataclass(frozen=True)
class Comparison:
    """Everything `runs compare` prints or renders."""

    a: RunSide
    b: RunSide
    changes: dict[str, Any]
    shared: int
    fields: list[Row]
    overall: Row
    exact: Row
    flips: list[Flip]
    added: list[str]
    removed: list[str]

    @property
    def case_set_differs(self) -> bool:
        """True when both runs name their case set and the hashes differ (expectations changed)."""
        return bool(self.a.case_set and self.b.case_set and self.a.case_set != self.b.case_set)


def _error_type(error: Any) -> str | None:
    if error is None or error == "":
        return None
    if isinstance(error, dict):
        return str(error.get("type") or "error")
    return str(error)


def _case(error: Any, fields: Any) -> CaseScores:
    scores: dict[str, int] = {}
    actual: dict[str, Any] = {}
    for name, scored in (fields or {}).items():
        if isinstance(scored, dict) and isinstance(scored.get("score"), int | float):
            scores[str(name)] = 1 if scored["score"] >= 1 else 0
            actual[str(name)] = scored.get("actual")
    return CaseScores(_error_type(error), scores, actual)


def side_from_document(data: dict[str, Any], label: str, source: str) -> RunSide:
    """A run record, a `--eval-json` result or a baseline document as one comparison side."""
    raw = data.get("cases")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
    run = data.get("run") if isinstance(data.get("run"), dict) else {}
    assert isinstance(config, dict) and isinstance(summary, dict) and isinstance(run, dict)
    if isinstance(raw, list):
        kind = "run record" if run else "results JSON"
        cases = {str(c["id"]): _case(c.get("error"), c.get("fields")) for c in raw if isinstance(c, dict) and "id" in c}
    elif isinstance(raw, dict):
        kind = "baseline"
        cases = {str(cid): _case(c.get("error"), c.get("fields")) for cid, c in raw.items() if isinstance(c, dict)}
    else:
        raise CompareError(f"{source} has no cases: not a run record, results JSON or baseline")
    return RunSide(
        label=label,
        kind=kind,
        source=source,
        config=config,
        cases=cases,
        summary=summary,
        time=str(run["time"]) if run.get("time") else None,
        case_set=str(run["case_set"]) if run.get("case_set") else None,
    )


def _shown_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, else as given."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _from_file(path: Path, label: str) -> RunSide:
    try:
        data = read_record(path)
    except NotARunRecord as exc:
        raise CompareError(f"{_shown_path(path)}: {exc}") from exc
    return side_from_document(data, label, _shown_path(path))


def resolve_side(spec: str, runs_dir: Path, root: Path, baseline_path: Path) -> RunSide:
    """A JSON file, else a run id or unique id prefix in runs_dir, else a git ref's baseline."""
    path = Path(spec)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise CompareError(f"file {spec} not found")
        return _from_file(path, path.stem)
    try:
        record = find_run(runs_dir, spec)
    except RunLookupError as exc:
        raise CompareError(str(exc)) from exc
    if record is not None:
        return _from_file(record, record.stem)
    try:
        baseline = load_baseline(spec, root, baseline_path)
    except BaselineError as exc:
        raise CompareError(
            f"{spec!r} is not a file, not a run id in {runs_dir}, and not a git ref with a baseline ({exc})".replace(
                "\n", " "
            )
        ) from exc
    return side_from_document(baseline.data, spec, baseline.source)


def _shown(case: CaseScores, name: str) -> str:
    if case.error is not None:
        return f"error: {case.error}"
    value = case.actual.get(name)
    if value is None:
        return "null"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _row(name: str, a: dict[str, int], b: dict[str, int]) -> Row:
    result = compare_field(a, b, 0.0, ALPHA)
    return Row(
        name=name,
        a=result.baseline_accuracy,
        b=result.current_accuracy,
        delta=result.delta,
        n=result.n,
        flipped_down=result.flipped_down,
        flipped_up=result.flipped_up,
        p_value=result.p_value,
    )


def compare_runs(a: RunSide, b: RunSide) -> Comparison:
    """Pair the cases both runs scored and compare every field, overall and the exact-case rate."""
    shared = sorted(a.cases.keys() & b.cases.keys())
    names = sorted({n for cid in shared for n in a.cases[cid].scores if n in b.cases[cid].scores})
    rows: list[Row] = []
    flips: list[Flip] = []
    pairs_a: dict[str, int] = {}
    pairs_b: dict[str, int] = {}
    for name in names:
        ids = [cid for cid in shared if name in a.cases[cid].scores and name in b.cases[cid].scores]
        sa = {cid: a.cases[cid].scores[name] for cid in ids}
        sb = {cid: b.cases[cid].scores[name] for cid in ids}
        pairs_a.update({f"{cid}::{name}": v for cid, v in sa.items()})
        pairs_b.update({f"{cid}::{name}": v for cid, v in sb.items()})
        rows.append(_row(name, sa, sb))
        flips += [
            Flip(
                cid,
                name,
                "down" if sa[cid] > sb[cid] else "up",
                _shown(a.cases[cid], name),
                _shown(b.cases[cid], name),
            )
            for cid in ids
            if sa[cid] != sb[cid]
        ]
    flips.sort(key=lambda f: (f.direction != "down", f.case, f.field))
    exact_a = {cid: int(_exact(a.cases[cid])) for cid in shared}
    exact_b = {cid: int(_exact(b.cases[cid])) for cid in shared}
    return Comparison(
        a=a,
        b=b,
        changes=_changes(a, b),
        shared=len(shared),
        fields=rows,
        overall=_row("overall", pairs_a, pairs_b),
        exact=_row("exact cases", exact_a, exact_b),
        flips=flips,
        added=sorted(b.cases.keys() - a.cases.keys()),
        removed=sorted(a.cases.keys() - b.cases.keys()),
    )


def _exact(case: CaseScores) -> bool:
    return case.error is None and bool(case.scores) and all(case.scores.values())


def _changes(a: RunSide, b: RunSide) -> dict[str, Any]:
    changes = config_changes(a.config, b.config)
    # gate.config_changes names the sides baseline/current; here they are A and B.
    lines = changes["prompt_diff"].splitlines(keepends=True)
    for i, (old, new) in enumerate((("--- baseline/", "--- A/"), ("+++ current/", "+++ B/"))):
        if len(lines) > i and lines[i].startswith(old):
            lines[i] = new + lines[i][len(old) :]
    changes["prompt_diff"] = "".join(lines)
    return changes


def comparison_json(result: Comparison) -> dict[str, Any]:
    """A JSON-able view of the comparison (for scripts and the HTML template)."""

    def side(s: RunSide) -> dict[str, Any]:
        keys = ("model", "prompt", "prompt_id", "schema_id", "git_sha")
        return {
            "label": s.label,
            "kind": s.kind,
            "source": s.source,
            "time": s.time,
            "config": {k: s.config.get(k) for k in keys},
            "cases": len(s.cases),
            "overall": s.summary.get("overall"),
            "exact_cases": s.summary.get("exact_cases"),
        }

    def row(r: Row) -> dict[str, Any]:
        return {k: getattr(r, k) for k in Row.__dataclass_fields__}

    return {
        "a": side(result.a),
        "b": side(result.b),
        "changes": result.changes,
        "shared_cases": result.shared,
        "case_set_differs": result.case_set_differs,
        "fields": [row(r) for r in result.fields],
        "overall": row(result.overall),
        "exact_cases": row(result.exact),
        "flips": [{k: getattr(f, k) for k in Flip.__dataclass_fields__} for f in result.flips],
        "added_cases": result.added,
        "removed_cases": result.removed,
    }


def render_compare_html(result: Comparison) -> str:
    """The comparison as one self-contained HTML page (autoescaped, inline CSS)."""
    from pytest_listingeval.report.html import environment

    template = environment().get_template("compare.html.j2")
    return template.render(cmp=comparison_json(result), alpha=ALPHA)
