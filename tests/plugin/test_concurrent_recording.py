"""--eval-concurrency: cases recorded at once in threads land in their own cassettes, with no cross-talk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from extractor.images import prepare_image
from pytest_listingeval.fake_openai import FakeOpenAI

PYPROJECT = """
[tool.listingeval]
task = "extractor.eval:task"
model = "concurrency-model"
prompt = "default"
"""
COLOURS = {"red": (200, 20, 20), "green": (20, 160, 40), "blue": (30, 40, 200), "black": (5, 5, 5)}
ARGS = ("-p", "no:randomly", "--eval-no-run-record", "-m", "eval")


def _listing(colour: str) -> dict[str, Any]:
    return {
        "title": f"{colour} box",
        "description": f"A {colour} box.",
        "category": "other",
        "color": colour,
        "brand": None,
        "condition": "unknown",
    }


def _project(pytester: pytest.Pytester, fake: FakeOpenAI, copies: int) -> list[str]:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    cases = pytester.mkdir("cases")
    ids = []
    for colour, rgb in COLOURS.items():
        for n in range(copies):
            name = f"{colour}{n}"
            image = cases / f"{name}.png"
            # A pixel per copy keeps every image (and so every answer key) distinct.
            picture = Image.new("RGB", (40, 30), rgb)
            picture.putpixel((n, 0), (n, n, n))
            picture.save(image)
            (cases / f"{name}.yaml").write_text(
                json.dumps(
                    {"image": f"{name}.png", "expected": {"color": colour, "title": {"contains_all": [colour]}}}
                ),
                encoding="utf-8",
            )
            fake.answer_image(prepare_image(image.read_bytes()).sha256, _listing(colour))
            ids.append(name)
    fake.answer_with(None)  # an image without an answer gets a 400: cross-talk cannot pass silently
    return ids


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(*ARGS, "--eval-json", str(out), *args)
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_threads_record_each_case_into_its_own_cassette(pytester: pytest.Pytester, fake_openai_env: FakeOpenAI) -> None:
    ids = _project(pytester, fake_openai_env, copies=3)
    fake_openai_env.latency_s = 0.4
    recorded, data = _run(pytester, "--record-mode=once", "--eval-concurrency", "12")
    assert recorded.ret == 0, recorded.stdout.str()
    assert data["summary"]["overall"] == 1.0 and data["summary"]["errors"] == 0
    assert len(fake_openai_env.requests) == len(ids) == 12
    # One after another, the 12th request would arrive 11 x 0.4 s = 4.4 s after the first;
    # in flight together they all arrive within the CPU time of preparing them.
    arrivals = sorted(r.received_at for r in fake_openai_env.requests)
    assert arrivals[-1] - arrivals[0] < 2.2, f"no overlap: {arrivals[-1] - arrivals[0]:.1f} s between arrivals"
    folder = next((pytester.path / "cassettes" / "eval" / "concurrency-model").iterdir())
    for case_id in ids:
        text = (folder / f"{case_id}.yaml").read_text(encoding="utf-8")
        colour = case_id.rstrip("0123456789")
        assert f"{colour} box" in text, f"{case_id} holds another case's answer"
        assert text.count("request:") == 1
    # Serial replay with no server gives the same scores.
    fake_openai_env.stop()
    replayed, again = _run(pytester)
    assert replayed.ret == 0, replayed.stdout.str()
    assert [c["fields"] for c in again["cases"]] == [c["fields"] for c in data["cases"]]


def test_concurrent_replay_reports_missing_cassettes_per_case(
    pytester: pytest.Pytester, fake_openai_env: FakeOpenAI
) -> None:
    _project(pytester, fake_openai_env, copies=1)
    recorded, _ = _run(pytester, "--record-mode=once", "--eval-concurrency", "4")
    assert recorded.ret == 0
    folder: Path = next((pytester.path / "cassettes" / "eval" / "concurrency-model").iterdir())
    (folder / "green0.yaml").unlink()
    replayed, data = _run(pytester, "--eval-concurrency", "4")
    assert replayed.ret != 0
    errors = {c["id"]: c["error"] for c in data["cases"]}
    assert errors["green0"]["type"] == "harness_error" and "missing cassette" in errors["green0"]["message"]
    assert [cid for cid, error in errors.items() if error] == ["green0"]
