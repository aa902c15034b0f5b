"""--eval-repeat (pass rates, flaky cases, a cassette per repeat) and `judge` checks, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pytest_listingeval.fake_openai import FakeOpenAI, RecordedRequest

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


def _project(pytester: pytest.Pytester, expected: dict[str, Any]) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    cases = pytester.mkdir("cases")
    Image.new("RGB", (64, 48), (120, 60, 20)).save(cases / "violin.png")
    (cases / "violin.yaml").write_text(json.dumps({"image": "violin.png", "expected": expected}), encoding="utf-8")


def _results(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(*BASE_ARGS, "--eval-json", str(out), *args)
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_repeats_give_pass_rates_flaky_cases_and_a_cassette_per_repeat(
    pytester: pytest.Pytester, fake_openai_env: FakeOpenAI
) -> None:
    _project(pytester, {"color": "brown", "category": "musical_instruments"})
    answers = iter([LISTING, {**LISTING, "color": "red"}, LISTING])
    fake_openai_env.answer_using(lambda request: next(answers))
    result, data = _results(pytester, "--record-mode=once", "--eval-repeat", "3")
    assert result.ret == 0, result.stdout.str()
    case = data["cases"][0]
    assert case["repeats"] == 3
    assert case["fields"]["color"]["repeat_scores"] == [1, 0, 1]
    assert case["fields"]["color"]["score"] == pytest.approx(2 / 3, abs=1e-6)
    assert case["fields"]["category"]["score"] == 1
    assert data["summary"]["fields"]["color"]["accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert data["flaky"] == [{"case": "violin", "field": "color", "pass_rate": pytest.approx(2 / 3, abs=1e-6)}]
    folder = next((pytester.path / "cassettes" / "eval" / "judge-test-model").iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["violin.repeat-2.yaml", "violin.repeat-3.yaml", "violin.yaml"]
    # The replay reads the same three cassettes, with no server at all.
    fake_openai_env.answer_using(lambda request: pytest.fail("replay must not call the server"))
    replay, again = _results(pytester, "--eval-repeat", "3")
    assert replay.ret == 0, replay.stdout.str()
    assert again["cases"][0]["fields"] == case["fields"]
    # A missing repeat cassette is a harness error that names the record command.
    (folder / "violin.repeat-3.yaml").unlink()
    missing, _ = _results(pytester, "--eval-repeat", "3")
    assert missing.ret != 0
    missing.stdout.fnmatch_lines(["*missing cassette*violin.repeat-3.yaml*--record-mode=once*--eval-repeat 3*"])


def _judge_answer(verdicts: dict[str, bool]) -> Any:
    def answer(request: RecordedRequest) -> dict[str, Any]:
        body = request.body or {}
        if "grade one field" not in str(body.get("instructions", "")):
            return LISTING
        text = json.dumps(body.get("input"))
        passed = next((v for key, v in verdicts.items() if key in text), False)
        return {"passed": passed, "reason": "names a violin and its colour" if passed else "invents a maker"}

    return answer


def test_judge_check_is_recorded_and_replayed_with_its_reason(
    pytester: pytest.Pytester, fake_openai_env: FakeOpenAI
) -> None:
    _project(pytester, {"description": {"judge": "names the item type and its colour; invents no facts"}})
    fake_openai_env.answer_using(_judge_answer({"brown wooden violin": True}))
    result, data = _results(pytester, "--record-mode=once", "--eval-judge-model", "judge-model")
    assert result.ret == 0, result.stdout.str()
    field = data["cases"][0]["fields"]["description"]
    assert field["score"] == 1
    assert field["checks"] == [
        {"check": "judge", "passed": True, "detail": "names a violin and its colour", "similarity": None}
    ]
    judged = [r for r in fake_openai_env.requests if r.body and r.body.get("model") == "judge-model"]
    assert len(judged) == 1
    assert data["config"]["judge_model"] == "judge-model"
    replay, again = _results(pytester, "--eval-judge-model", "judge-model")
    assert replay.ret == 0
    assert again["cases"][0]["fields"]["description"] == field


def test_judge_failure_scores_zero_with_the_reason(pytester: pytest.Pytester, fake_openai_env: FakeOpenAI) -> None:
    _project(pytester, {"description": {"judge": "invents no facts"}})
    fake_openai_env.answer_using(_judge_answer({}))
    result, data = _results(pytester, "--record-mode=once")
    assert result.ret == 0  # a field mismatch alone never fails a run
    field = data["cases"][0]["fields"]["description"]
    assert field["score"] == 0
    assert field["checks"][0]["detail"] == "invents a maker"


def test_judge_check_must_have_a_rubric(pytester: pytest.Pytester) -> None:
    _project(pytester, {"description": {"judge": ""}})
    result = pytester.runpytest_subprocess(*BASE_ARGS)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*violin.yaml*judge needs a rubric*"])


def test_rate_scores_gate_with_a_paired_bootstrap(tmp_path: Path) -> None:
    from pytest_listingeval.stats import compare_field_rates

    base = {f"c{i}": 1.0 for i in range(40)}
    worse = {f"c{i}": (0.0 if i < 12 else 1.0) for i in range(40)}
    dropped = compare_field_rates(base, worse, tolerance=0.0, alpha=0.05)
    assert dropped.delta == pytest.approx(-0.3)
    assert dropped.flipped_down == 12 and dropped.flipped_up == 0
    assert dropped.significant_regression
    same = compare_field_rates(base, dict(base), tolerance=0.0, alpha=0.05)
    assert not same.strict_regression and same.p_value_drop > 0.5


def test_overall_significance_resamples_cases_not_pairs() -> None:
    from pytest_listingeval.stats import clustered_drop_p_value, mcnemar_one_sided

    # 40 cases x 6 fields; 3 cases lose every field: 18 pairs flip, but only 3 cases moved.
    before = [[1.0] * 6 for _ in range(40)]
    after = [[0.0] * 6 if i < 3 else [1.0] * 6 for i in range(40)]
    pooled = mcnemar_one_sided(18, 0)
    clustered = clustered_drop_p_value(before, after)
    assert pooled < 1e-4
    assert clustered > 100 * pooled
    assert clustered_drop_p_value(before, before) > 0.5
    assert clustered_drop_p_value(before, after) == clustered  # seeded: the same figure every run
