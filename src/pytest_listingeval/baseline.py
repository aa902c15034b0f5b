"""The committed baseline (DESIGN section 7): write it, and read it from a file or a git ref."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_listingeval.results import CaseResult

BASELINE_VERSION = 1


class BaselineError(Exception):
    """The baseline cannot be found or read; the message says what was looked for."""


@dataclass(frozen=True)
class Baseline:
    """A baseline document and where it came from."""

    source: str
    data: dict[str, Any]

    @property
    def cases(self) -> dict[str, dict[str, Any]]:
        """Case id -> {"error": type|None, "fields": {field: {"score", "actual"}}}."""
        cases: dict[str, dict[str, Any]] = self.data.get("cases", {})
        return cases

    @property
    def config(self) -> dict[str, Any]:
        """The configuration the baseline was produced with."""
        config: dict[str, Any] = self.data.get("config", {})
        return config


def build_baseline(config: dict[str, Any], summary: dict[str, Any], results: list[CaseResult]) -> dict[str, Any]:
    """A deterministic baseline document: no timings, no git sha, sorted keys."""
    stable_summary = {k: summary[k] for k in ("cases", "errors", "overall", "exact_cases")}
    stable_summary["fields"] = {name: {"accuracy": f["accuracy"], "n": f["n"]} for name, f in summary["fields"].items()}
    stable_config = {k: v for k, v in config.items() if k not in ("git_sha", "git_dirty")}
    return {
        "version": BASELINE_VERSION,
        "config": stable_config,
        "summary": stable_summary,
        "cases": {
            r.id: {
                "error": r.error["type"] if r.error else None,
                "fields": {
                    name: {"score": scored["score"], "actual": scored["actual"]}
                    for name, scored in sorted(r.fields.items())
                },
            }
            for r in sorted(results, key=lambda r: r.id)
        },
    }


def write_baseline(path: Path, document: dict[str, Any]) -> None:
    """Write the baseline with stable formatting so diffs stay small."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _parse(text: str, source: str) -> Baseline:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"baseline {source} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cases"), dict):
        raise BaselineError(f"baseline {source} has no 'cases' mapping; regenerate it with --update-baseline")
    return Baseline(source=source, data=data)


def _git_show(root: Path, ref: str, repo_path: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "show", f"{ref}:{repo_path}"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return completed.stdout if completed.returncode == 0 else None


def _repo_relative(root: Path, path: Path) -> str:
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BaselineError(f"--baseline names a git ref but {root} is not inside a git repository") from exc
    return (root / path).resolve().relative_to(Path(top).resolve()).as_posix()


def load_baseline(spec: str, root: Path, baseline_path: Path) -> Baseline:
    """Read `spec` as a JSON file if it is one, else `REF:<baseline path>` then `origin/REF`."""
    candidate = Path(spec) if Path(spec).is_absolute() else root / spec
    if candidate.is_file():
        try:
            return _parse(candidate.read_text(encoding="utf-8"), spec)
        except OSError as exc:
            raise BaselineError(f"cannot read baseline file {spec}: {exc}") from exc
    if spec.endswith(".json"):
        raise BaselineError(f"baseline file {spec} not found (looked for {candidate})")
    repo_path = _repo_relative(root, baseline_path)
    looked = []
    for ref in (spec, f"origin/{spec}"):
        looked.append(f"{ref}:{repo_path}")
        text = _git_show(root, ref, repo_path)
        if text is not None:
            return _parse(text, f"{ref}:{repo_path}")
    raise BaselineError(
        f"no baseline found: looked for {' and '.join(looked)} (unknown ref, or the file is not committed there); "
        "create one on main with `pytest -m eval --update-baseline` and commit it"
    )
