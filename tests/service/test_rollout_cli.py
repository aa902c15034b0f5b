"""`listingeval rollout ...` as a person runs it: start, status, advance, halt, ship, shadow, and refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from extractor.cli import main

pytestmark = pytest.mark.service

PYPROJECT = """
[tool.listingeval]
model = "gpt-4.1-mini"

[tool.listingeval.variants.default]
weight = 1

[tool.listingeval.variants.concise]
prompt = "concise"
weight = 0

[tool.listingeval.rollout]
min_requests = 0
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER", "ada")
    url = f"sqlite:///{tmp_path / 'service.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_rollout_from_start_to_ship(project: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "rollout", "start", "concise", "--against", "default", "--steps", "10,100", "--db", project
    )
    assert code == 0 and "started at 10 %" in out
    code, out, _ = run(capsys, "rollout", "status", "--db", project)
    assert code == 0
    assert "rollout of concise against default: running at 10 %" in out
    assert "shares: concise 10.0 %, default 90.0 %" in out
    assert "decision:" in out and "error_rate" in out
    code, out, _ = run(capsys, "rollout", "advance", "--why", "fine so far", "--db", project)
    assert code == 0 and "running at 100 %" in out
    code, out, _ = run(capsys, "rollout", "ship", "--db", project)
    assert code == 0 and "shipped" in out
    code, out, _ = run(capsys, "rollout", "status", "--json", "--db", project)
    status = json.loads(out)
    assert (status["state"], status["shares"]) == ("shipped", {"concise": 1.0})
    assert [(e["kind"], e["by"]) for e in status["events"]] == [("start", "ada"), ("advance", "ada"), ("ship", "ada")]
    assert status["events"][1]["why"] == "fine so far"


def test_halt_and_the_refusals_are_one_line_with_exit_2(project: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "rollout", "advance", "--db", project)
    assert code == 2 and err.strip().startswith("listingeval: no rollout is running") and err.count("\n") == 1
    code, _, err = run(capsys, "rollout", "start", "nope", "--against", "default", "--db", project)
    assert code == 2 and "'nope' is not a variant" in err
    code, _, err = run(
        capsys, "rollout", "start", "concise", "--against", "default", "--steps", "5,50", "--db", project
    )
    assert code == 2 and "end at 100" in err
    assert run(capsys, "rollout", "start", "concise", "--against", "default", "--db", project)[0] == 0
    code, _, err = run(capsys, "rollout", "ship", "--db", project)
    assert code == 2 and "advance it to 100 %" in err
    code, out, _ = run(capsys, "rollout", "halt", "--why", "changed my mind", "--db", project)
    assert code == 0 and "halted" in out
    status = json.loads(run(capsys, "rollout", "status", "--json", "--db", project)[1])
    assert status["state"] == "halted" and status["shares"] == {"default": 1.0}
    assert status["events"][-1] | {"at": ""} == {
        "at": "",
        "kind": "halt",
        "by": "ada",
        "why": "changed my mind",
        "step_percent": 0.0,
    }


def test_shadow_start_and_stop(project: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rollout", "shadow", "concise", "--share", "10", "--db", project)
    assert code == 0 and "concise shadows 10 % of the requests of every other variant" in out
    assert json.loads(run(capsys, "rollout", "status", "--json", "--db", project)[1])["events"][-1]["kind"] == "shadow"
    code, out, _ = run(capsys, "rollout", "shadow", "--stop", "--db", project)
    assert code == 0 and "shadow stopped" in out
    code, _, err = run(capsys, "rollout", "shadow", "--db", project)
    assert code == 2 and "give the shadow variant" in err


def test_a_database_without_the_tables_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "rollout", "status", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert code == 2 and "listingeval db upgrade" in err


def test_a_closed_pipe_ends_the_status_quietly(project: str) -> None:
    command = [sys.executable, "-m", "extractor.cli", "rollout", "status", "--db", project]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader went away, as `| head -0` would
    err = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
