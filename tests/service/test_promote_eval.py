"""Round trip: promote a reviewed extraction, collect it with `pytest -m eval`, record it, score it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from extractor.service.storage.store import Store
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.test_promote import TEAPOT, _reviewed
from tests.service.test_review_helpers import database_url, drawing

pytestmark = pytest.mark.service

PYPROJECT = """
[tool.listingeval]
task = "extractor.eval:task"
model = "fake-model"
prompt = "default"

[tool.pytest.ini_options]
markers = ["eval: eval cases"]
"""


def test_promoted_case_is_collected_recorded_and_scored_against_the_review(
    pytester: pytest.Pytester,
    store: Store,
    fake_openai_env: FakeOpenAI,
) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    extraction_id = _reviewed(store, drawing(11))
    # A separate process, as a person runs it (and numpy, under imagehash, cannot load twice in one process).
    command = [
        sys.executable,
        "-m",
        "extractor.cli",
        "cases",
        "promote",
        extraction_id,
        "--db",
        database_url(store.engine),
    ]
    done = subprocess.run(command, cwd=pytester.path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    case_id = done.stdout.splitlines()[0]
    args = ("-p", "no:cacheprovider", "--eval-no-run-record")

    collected = pytester.runpytest_subprocess("-m", "eval", "--collect-only", "-q", *args)
    collected.stdout.fnmatch_lines([f"*{case_id}*"])

    # The model now gets everything right except the colour (the reviewer said white).
    answer = {**TEAPOT, "color": "black"} | {k: DEFAULT_LISTING[k] for k in ("description", "condition")}
    fake_openai_env.answer_with(answer)
    recorded = pytester.runpytest_subprocess("-m", "eval", "--record-mode=once", *args, f"cases/{case_id}.yaml")
    assert recorded.ret == 0, recorded.stdout.str()
    assert len(fake_openai_env.requests) == 1

    fake_openai_env.answer_with(None)  # the replay must not reach the server
    replay = pytester.runpytest_subprocess("-m", "eval", "--eval-json", "out.json", *args)
    assert replay.ret == 0, replay.stdout.str()
    results = json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))
    (case,) = results["cases"]
    assert case["id"] == case_id and case["error"] is None
    scores = {name: field["score"] for name, field in case["fields"].items()}
    assert scores == {"title": 1, "description": 1, "category": 1, "color": 0, "brand": 1, "condition": 1}
    assert case["fields"]["color"]["expected"] == "white"
    assert len(fake_openai_env.requests) == 1
