"""Judge calibration in an eval run: a warning per judge rubric without calibration or below judge_min_kappa."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pytest_listingeval import CaseResult, FieldScore, JudgeAgreement, JudgeCalibrationFile, calibration_text
from pytest_listingeval.fake_openai import FakeOpenAI, RecordedRequest
from pytest_listingeval.judge_calibration import judge_calibrations, judge_rubrics, rubric_version

RUBRIC = "names the item type and its colour; invents no facts"
VERSION = rubric_version(RUBRIC)
PYPROJECT = """
[tool.listingeval]
task = "extractor.eval:task"
model = "judge-test-model"
prompt = "default"
attempts = 2
backoff_initial_s = 0.01
backoff_max_s = 0.05
"""
LISTING = {
    "title": "Brown violin with bow",
    "description": "A brown wooden violin.",
    "category": "musical_instruments",
    "color": "brown",
    "brand": None,
    "condition": "unknown",
}
BASE_ARGS = ("-p", "no:randomly", "--eval-no-run-record", "-m", "eval")
NO_FILE = (
    f"judge on description (rubric {VERSION}, 1 case): no judge calibration file at reports/judge-calibration.json "
    "(write one: listingeval judge calibrate --out reports/judge-calibration.json)"
)


def _answer(request: RecordedRequest) -> dict[str, Any]:
    body = request.body or {}
    if "grade one field" in str(body.get("instructions", "")):
        return {"passed": True, "reason": "names a violin and its colour"}
    return LISTING


def _calibration(path: Path, field: str, kappa: float | None, n: int = 30) -> None:
    agreement = JudgeAgreement(judged=n, n=n, tp=n - 6, fp=2, tn=3, fn=1, kappa=kappa, agreement=0.9)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration_text(JudgeCalibrationFile(rubrics={VERSION: {field: agreement}})), encoding="utf-8")


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any], str]:
    out, markdown = pytester.path / "out.json", pytester.path / "out.md"
    result = pytester.runpytest_subprocess(*BASE_ARGS, "--eval-json", str(out), "--eval-markdown", str(markdown), *args)
    return result, json.loads(out.read_text(encoding="utf-8")), markdown.read_text(encoding="utf-8")


def test_an_eval_run_warns_about_an_uncalibrated_or_weak_judge_and_still_passes(
    pytester: pytest.Pytester, fake_openai_env: FakeOpenAI
) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    cases = pytester.mkdir("cases")
    Image.new("RGB", (64, 48), (120, 60, 20)).save(cases / "violin.png")
    case = {"image": "violin.png", "expected": {"description": {"judge": RUBRIC}, "color": "brown"}}
    (cases / "violin.yaml").write_text(json.dumps(case), encoding="utf-8")
    fake_openai_env.answer_using(_answer)

    result, data, markdown = _run(pytester, "--record-mode=once", "--eval-report", "report.html")
    assert result.ret == 0, result.stdout.str()
    assert data["verdict"] == "pass"
    assert data["judge_calibration"] == [
        {
            "field": "description",
            "rubric_version": VERSION,
            "rubric": RUBRIC,
            "cases": 1,
            "n": None,
            "kappa": None,
            "warning": NO_FILE.split(": ", 1)[1],
        }
    ]
    result.stdout.fnmatch_lines([f"WARNING {NO_FILE}", "*listingeval verdict: PASS*"])
    assert f"- {NO_FILE}" in markdown and "**Judge calibration** (warnings; the gate does not read them):" in markdown
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    assert 'id="judge-calibration"' in html and "Judge calibration (1)" in html

    calibration = pytester.path / "reports" / "judge-calibration.json"
    _calibration(calibration, "description", 0.45)
    replay, data, markdown = _run(pytester)
    assert replay.ret == 0, replay.stdout.str()
    weak = f"judge on description (rubric {VERSION}, 1 case): kappa 0.45 is below judge_min_kappa 0.6 (n 30)"
    replay.stdout.fnmatch_lines([f"WARNING {weak}"])
    assert data["judge_calibration"][0]["kappa"] == 0.45 and data["judge_calibration"][0]["n"] == 30
    assert f"- {weak}" in markdown

    pytester.makefile(".toml", pyproject=PYPROJECT + "judge_min_kappa = 0.4\n")
    trusted, data, markdown = _run(pytester)
    assert trusted.ret == 0
    assert data["judge_calibration"][0]["warning"] is None and data["judge_calibration"][0]["kappa"] == 0.45
    assert "WARNING" not in trusted.stdout.str() and "Judge calibration" not in markdown

    pytester.makefile(".toml", pyproject=PYPROJECT + 'judge_calibration = "elsewhere.json"\n')
    moved, data, _ = _run(pytester)
    assert moved.ret == 0
    moved.stdout.fnmatch_lines(["WARNING *: no judge calibration file at elsewhere.json (write one: *"])

    pytester.makefile(".toml", pyproject=PYPROJECT + "judge_min_kappa = 2\n")
    refused = pytester.runpytest_subprocess(*BASE_ARGS)
    assert refused.ret != 0
    refused.stderr.fnmatch_lines(["*judge_min_kappa must be a number between -1 and 1, got 2*"])


def _result(expected: dict[str, Any], case_id: str = "c") -> CaseResult:
    return CaseResult(id=case_id, fields={name: FieldScore(score=1, expected=spec) for name, spec in expected.items()})


def test_judge_rubrics_are_found_in_every_form_of_spec() -> None:
    results = [
        _result({"description": {"judge": RUBRIC}, "color": "brown"}, "a"),
        _result({"description": [{"judge": RUBRIC}, {"max_len": 600}], "title": [{"judge": "short"}]}, "b"),
        _result({"title": {"contains_all": ["judge"]}, "brand": None}, "c"),
    ]
    assert judge_rubrics(results) == {("description", RUBRIC): 2, ("title", "short"): 1}


@pytest.mark.parametrize(
    ("field", "kappa", "n", "warning"),
    [
        ("description", 0.8, 30, None),
        ("description", 0.6, 30, None),  # at the threshold: trusted
        ("description", 0.59, 30, "kappa 0.59 is below judge_min_kappa 0.6 (n 30)"),
        ("description", -0.2, 30, "kappa -0.20 is below judge_min_kappa 0.6 (n 30)"),
        ("description", None, 12, "kappa undefined on n 12: judge and reviewers gave one and the same verdict every"),
        ("description", None, 0, "no reviewed production verdict yet (n 0)"),
        ("title", 0.9, 30, "not in cal.json: no reviewed production verdict of this rubric on this field"),
    ],
)
def test_what_the_calibration_file_says_of_a_judge(
    tmp_path: Path, field: str, kappa: float | None, n: int, warning: str | None
) -> None:
    _calibration(tmp_path / "cal.json", field, kappa, n)
    judged = judge_calibrations([_result({"description": {"judge": RUBRIC}})], tmp_path / "cal.json", "cal.json", 0.6)
    assert len(judged) == 1
    if warning is None:
        assert judged[0].warning is None
    else:
        assert judged[0].warning is not None and judged[0].warning.startswith(warning)


def test_an_unreadable_file_warns_for_every_judge_and_no_judge_means_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    path.write_text("{not json", encoding="utf-8")
    results = [_result({"description": {"judge": RUBRIC}, "title": {"judge": "short"}})]
    judged = judge_calibrations(results, path, "cal.json", 0.6)
    assert [j.field for j in judged] == ["description", "title"]
    assert all((j.warning or "").startswith("cannot read the judge calibration file cal.json: ") for j in judged)
    path.write_text(json.dumps({"version": 2, "rubrics": {}}), encoding="utf-8")
    assert "is not a version 1 judge calibration file" in (judge_calibrations(results, path, "x", 0.6)[0].warning or "")
    assert judge_calibrations([_result({"color": "brown"})], tmp_path / "none.json", "none.json", 0.6) == ()
