"""The committed baseline: its typed document, how it is built from a run, and where it is read from.

Per case it keeps the task's output(s), the per-field scores and the expectations they were
scored against (and their hash), so the gate can re-score the baseline's answers against
today's expectations: a relabel then applies to both sides of the comparison.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_listingeval.documents import DocumentError, dump_document, parse_document, write_text_atomically
from pytest_listingeval.outcome import OUTCOME_VERSION, FieldSummary, GatePolicy, RunConfig, Summary
from pytest_listingeval.results import CaseResult, Frozen

REGENERATE = "regenerate it on main with `pytest -m eval --update-baseline` and commit it"


class BaselineError(Exception):
    """The baseline cannot be found or read; the message says what was looked for."""


class BaselineField(Frozen):
    """One field of one baseline case: its score and the value the task gave."""

    score: float
    actual: Any = None


class BaselineCase(Frozen):
    """One baseline case: what was expected, what the task answered, and how it scored."""

    expectations: str
    expected: dict[str, Any]
    critical: tuple[str, ...] = ()
    error: str | None = None
    outputs: tuple[dict[str, Any] | None, ...]
    fields: dict[str, BaselineField]


class BaselineSummary(Frozen):
    """The baseline run's own aggregates (no timings: the file must be deterministic)."""

    cases: int
    errors: int
    overall: float
    exact_cases: float
    fields: dict[str, FieldSummary] = {}


class BaselineDocument(Frozen):
    """`reports/baseline.json`: deterministic, sorted, versioned."""

    version: int = OUTCOME_VERSION
    config: RunConfig
    policy: GatePolicy | None = None
    summary: BaselineSummary
    cases: dict[str, BaselineCase]


@dataclass(frozen=True)
class Baseline:
    """A baseline document and where it came from."""

    source: str
    document: BaselineDocument


def build_baseline(
    config: RunConfig, summary: Summary, results: Iterable[CaseResult], policy: GatePolicy | None = None
) -> BaselineDocument:
    """A deterministic baseline from a complete run: no timings, no git sha, no intervals.

    The gate policy is kept so that a later run under a looser one (a larger tolerance in a
    pull request's pyproject.toml, say) is reported as a change.
    """
    stable_fields = {name: FieldSummary(accuracy=f.accuracy, n=f.n) for name, f in summary.fields.items()}
    return BaselineDocument(
        config=config.model_copy(update={"git_sha": None, "git_dirty": False}),
        policy=policy.model_copy(update={"allow_subset": False}) if policy else None,
        summary=BaselineSummary(
            cases=summary.cases,
            errors=summary.errors,
            overall=summary.overall,
            exact_cases=summary.exact_cases,
            fields=stable_fields,
        ),
        cases={
            r.id: BaselineCase(
                expectations=r.expectations or "",
                expected=r.expected,
                critical=r.critical,
                error=str(r.error.get("type") or "error") if r.error else None,
                outputs=r.outputs,
                fields={
                    name: BaselineField(score=scored.score, actual=scored.actual)
                    for name, scored in sorted(r.fields.items())
                },
            )
            for r in sorted(results, key=lambda r: r.id)
        },
    )


def write_baseline(path: Path, document: BaselineDocument) -> None:
    """Write the baseline with stable formatting (sorted keys, no defaults dropped) so diffs stay small."""
    write_text_atomically(path, dump_document(document, sort_keys=True, exclude_none=False))


def parse_baseline(text: str, source: str) -> Baseline:
    """The typed baseline from its JSON text, or BaselineError saying why it cannot be used."""
    try:
        data = parse_document(text, source)
    except DocumentError as exc:
        raise BaselineError(f"baseline {exc}") from exc
    if not isinstance(data.get("cases"), dict):
        raise BaselineError(f"baseline {source} has no 'cases' mapping; {REGENERATE}")
    old = [cid for cid, case in data["cases"].items() if not isinstance(case, dict) or "outputs" not in case]
    if old:
        raise BaselineError(
            f"baseline {source} was written by an older listingeval: it holds no task outputs or "
            f"expectations (case {old[0]!r}), so it cannot be re-scored; {REGENERATE}"
        )
    try:
        return Baseline(source=source, document=BaselineDocument.model_validate(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BaselineError(f"baseline {source} is malformed at {where}: {first['msg']}; {REGENERATE}") from exc


def _git_show(root: Path, ref: str, repo_path: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "show", f"{ref}:{repo_path}"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return completed.stdout if completed.returncode == 0 else None


def _repo_relative(root: Path, path: Path) -> str:
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BaselineError(f"--baseline names a git ref but {root} is not inside a git repository") from exc
    try:
        return (root / path).resolve().relative_to(Path(top).resolve()).as_posix()
    except ValueError as exc:
        raise BaselineError(f"the baseline path {path} is outside the git repository {top}") from exc


def load_baseline(spec: str, root: Path, baseline_path: Path, here: Path | None = None) -> Baseline:
    """Read `spec` as a JSON file if it is one, else `REF:<baseline path>` then `origin/REF`."""
    given = Path(spec).expanduser()
    candidate = given if given.is_absolute() else (here or root) / given
    if candidate.is_file():
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"cannot read baseline file {spec}: {exc}") from exc
        return parse_baseline(text, spec)
    if spec.endswith(".json"):
        raise BaselineError(f"baseline file {spec} not found (looked for {candidate})")
    repo_path = _repo_relative(root, baseline_path)
    looked = []
    for ref in (spec, f"origin/{spec}"):
        looked.append(f"{ref}:{repo_path}")
        shown = _git_show(root, ref, repo_path)
        if shown is not None:
            return parse_baseline(shown, f"{ref}:{repo_path}")
    raise BaselineError(
        f"no baseline found: looked for {' and '.join(looked)} (unknown ref, or the file is not committed there); "
        "create one on main with `pytest -m eval --update-baseline` and commit it"
    )
