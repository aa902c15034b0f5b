"""examples/receipts, a second feature on the harness, replays, gates and catches a regression.

Each test runs pytest in a copy of the example, as its README says (`pytest -m eval`), so the
example's own pyproject, task, cases, cassettes and baseline are what is exercised.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "receipts"


@pytest.fixture
def receipts(tmp_path: Path) -> Path:
    """A fresh copy of the example (without run records)."""
    copy = tmp_path / "receipts"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("reports", ".pytest_cache", "__pycache__"))
    return copy


def _eval(project: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_ADDOPTS"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "eval", "-p", "no:randomly", "--eval-json", "out.json", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = project / "out.json"
    data = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    return done.returncode, done.stdout + done.stderr, data


def test_the_committed_cassettes_replay_and_match_the_baseline(receipts: Path) -> None:
    code, text, data = _eval(receipts)
    assert code == 0, text
    assert data["verdict"] == "pass"
    baseline = json.loads((receipts / "baseline.json").read_text(encoding="utf-8"))
    assert data["summary"]["overall"] == pytest.approx(baseline["summary"]["overall"])
    fields = data["summary"]["fields"]
    # The simulated model's three deliberate mistakes, and nothing else, are misses.
    assert fields["date"]["accuracy"] == pytest.approx(7 / 8)
    assert fields["tip"]["accuracy"] == pytest.approx(7 / 8)
    assert fields["items[1].unit_price"]["accuracy"] == pytest.approx(1 / 2)
    assert all(f["accuracy"] == 1 for name, f in fields.items() if name not in {"date", "tip", "items[1].unit_price"})
    # The terminal table stays aligned with long field paths: every row's accuracy ends in one column.
    rows = [line for line in text.splitlines() if line.split(" ")[0] in {*fields, "overall"}]
    assert len(rows) == len(fields) + 1 and len({row.index("%") for row in rows}) == 1, rows
    gelato = next(c for c in data["cases"] if c["id"] == "gelato-rome")
    assert gelato["fields"]["date"]["score"] == 0
    assert gelato["fields"]["date"]["actual"] == "2026-05-08"


def test_a_worse_answer_is_a_regression(receipts: Path) -> None:
    (cassette,) = receipts.glob("cassettes/eval/*/*/cafe-paris.yaml")
    text = cassette.read_text(encoding="utf-8")
    assert '\\"total\\\\\\": 10.2' in text
    cassette.write_text(text.replace('\\"total\\\\\\": 10.2', '\\"total\\\\\\": 12.2'), encoding="utf-8")
    code, output, data = _eval(receipts)
    assert code != 0
    assert data["verdict"] == "regression", output
    assert any(miss["field"] == "total" for miss in data["critical_misses"]), data["critical_misses"]


def test_a_prompt_edit_needs_new_cassettes(receipts: Path) -> None:
    prompt = receipts / "prompts" / "default.txt"
    prompt.write_text(prompt.read_text(encoding="utf-8") + "Be careful.\n", encoding="utf-8")
    code, output, data = _eval(receipts)
    assert code != 0
    assert data["verdict"] == "error"
    assert "missing cassette" in output
    assert "OPENAI_API_KEY=... pytest -m eval --record-mode=once" in output


def test_a_case_the_task_cannot_run_is_a_collection_error(receipts: Path) -> None:
    case = receipts / "cases" / "gelato-rome.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace("  locale: it-IT\n", ""), encoding="utf-8")
    code, output, _ = _eval(receipts)
    assert code != 0
    assert "cases/gelato-rome.yaml: inputs ['locale'] are required" in output
