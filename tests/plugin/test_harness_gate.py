"""The baseline gate against a file and a git ref, and the results JSON contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.plugin.harness_support import GenericProject, Run, instrument

BASELINE = "reports/baseline.json"
RIGHT = {
    "violin": instrument("Violin", "violin"),
    "guitar": instrument("Guitar", "guitar"),
    "drum": instrument("Drum", "drum"),
    "harp": instrument("Harp", "other"),
}


def _project(pytester: pytest.Pytester, **extra: Any) -> GenericProject:
    """Four cases, each scoring `name` and `kind`, all answered right."""
    project = GenericProject(pytester, **extra)
    for case_id, answer in RIGHT.items():
        project.add(case_id, {"name": answer["name"], "kind": answer["kind"]}, answer)
    return project


def _baseline(project: GenericProject) -> Run:
    run = project.run("-m", "eval", "--update-baseline")
    assert run.ret == 0, run.text
    assert (project.path / BASELINE).is_file()
    return run


def test_update_baseline_then_unchanged_run_passes(pytester: pytest.Pytester) -> None:
    """--update-baseline writes a deterministic file; the same answers pass against it."""
    project = _project(pytester)
    first = _baseline(project)
    first.result.stdout.fnmatch_lines(["baseline: wrote reports/baseline.json"])
    document = json.loads((project.path / BASELINE).read_text(encoding="utf-8"))
    assert set(document["cases"]) == set(RIGHT)
    assert document["cases"]["drum"]["fields"]["kind"] == {"score": 1, "actual": "drum"}
    text = (project.path / BASELINE).read_text(encoding="utf-8")
    _baseline(project)
    assert (project.path / BASELINE).read_text(encoding="utf-8") == text, "baseline is not deterministic"

    run = project.run("-m", "eval", "--baseline", BASELINE)
    assert run.ret == 0, run.text
    data = run.json
    assert data["verdict"] == "pass"
    assert data["regressions"] == [] and data["critical_misses"] == []
    assert data["baseline"]["source"] == BASELINE
    assert data["baseline"]["overall"] == 1.0
    run.result.stdout.fnmatch_lines(["*listingeval verdict: PASS*"])


def test_regression_on_one_field_fails_and_names_it(pytester: pytest.Pytester) -> None:
    """One kind answer goes wrong: verdict regression, exit non-zero, `kind` named, `name` not."""
    project = _project(pytester)
    _baseline(project)
    project.answer("drum", instrument("Drum", "guitar"))
    run = project.run("-m", "eval", "--baseline", BASELINE)
    assert run.ret != 0
    data = run.json
    assert data["verdict"] == "regression"
    by_field = {r["field"]: r for r in data["regressions"]}
    assert "kind" in by_field and "name" not in by_field
    assert by_field["kind"]["baseline"] == 1.0 and by_field["kind"]["current"] == 0.75
    assert data["comparison"]["fields"]["kind"]["flipped_down"] == 1
    assert data["comparison"]["flips"] == [
        {"case": "drum", "field": "kind", "direction": "down", "baseline_actual": "drum", "current_actual": "guitar"}
    ]
    run.result.stdout.fnmatch_lines(["*REGRESSION kind: 100.0% -> 75.0%*", "*listingeval verdict: REGRESSION*"])
    # The items themselves still pass: the aggregate gate fails the run.
    assert "failed" not in run.result.parseoutcomes()


def test_improvement_passes(pytester: pytest.Pytester) -> None:
    """A baseline with a miss, then the miss fixed: pass, exit 0, the flip shows as up."""
    project = _project(pytester)
    project.answer("harp", instrument("Harp", "guitar"))
    _baseline(project)
    project.answer("harp", RIGHT["harp"])
    run = project.run("-m", "eval", "--baseline", BASELINE)
    assert run.ret == 0, run.text
    assert run.json["verdict"] == "pass"
    assert run.json["comparison"]["fields"]["kind"]["flipped_up"] == 1
    assert run.json["comparison"]["overall"]["delta"] > 0


def test_critical_miss_fails_without_a_baseline(pytester: pytest.Pytester) -> None:
    """A critical field scoring 0 fails the run whatever the aggregate, with no baseline at all."""
    project = _project(pytester)
    project.add("cello", {"name": "Cello", "kind": "violin"}, instrument("Cello", "other"), critical=["kind"])
    run = project.run("-m", "eval")
    assert run.ret != 0
    assert run.json["verdict"] == "regression"
    assert run.json["critical_misses"] == [{"case": "cello", "field": "kind"}]
    assert run.json["baseline"] is None
    run.result.stdout.fnmatch_lines(["*CRITICAL MISS cello: kind*"])


def test_added_and_removed_cases_are_reported_not_compared(pytester: pytest.Pytester) -> None:
    """A removed case and an added (wrong) case: both listed, neither moves the comparison.

    A baseline case whose file was deleted makes the run partial: an error unless the
    subset is opted into, then gated on the shared cases.
    """
    project = _project(pytester)
    _baseline(project)
    (project.path / "cases" / "harp.yaml").unlink()
    project.add("zither", {"name": "Zither", "kind": "other"}, instrument("Banjo", "guitar"))
    refused = project.run("-m", "eval", "--baseline", BASELINE)
    assert refused.ret == 1 and refused.json["verdict"] == "error"
    run = project.run("-m", "eval", "--baseline", BASELINE, "--eval-allow-subset")
    assert run.ret == 0, run.text
    comparison = run.json["comparison"]
    assert comparison["added_cases"] == ["zither"]
    assert comparison["removed_cases"] == ["harp"]
    assert comparison["shared_cases"] == 3
    assert comparison["overall"]["baseline"] == comparison["overall"]["current"] == 1.0
    assert run.json["verdict"] == "pass" and run.json["partial"] is True
    run.result.stdout.fnmatch_lines(["*cases added 1, removed 1*"])


@pytest.mark.parametrize(("tolerance", "verdict"), [("5", "pass"), ("4", "regression")])
def test_tolerance_is_in_points(pytester: pytest.Pytester, tolerance: str, verdict: str) -> None:
    """20 cases, one flips: a 5-point drop passes with tolerance 5 and fails with 4."""
    project = GenericProject(pytester)
    for i in range(20):
        project.add(f"c{i:02d}", {"kind": "violin"}, instrument(kind="violin"))
    _baseline(project)
    project.answer("c07", instrument(kind="drum"))
    run = project.run("-m", "eval", "--baseline", BASELINE, "--eval-tolerance", tolerance)
    assert run.json["summary"]["fields"]["kind"]["accuracy"] == 0.95
    assert run.json["verdict"] == verdict
    assert (run.ret == 0) == (verdict == "pass"), run.text


def test_tolerance_from_pyproject(pytester: pytest.Pytester) -> None:
    """`[tool.listingeval] tolerance` is in points too."""
    project = GenericProject(pytester, extra_settings="tolerance = 5")
    for i in range(20):
        project.add(f"c{i:02d}", {"kind": "violin"}, instrument(kind="violin"))
    _baseline(project)
    project.answer("c07", instrument(kind="drum"))
    run = project.run("-m", "eval", "--baseline", BASELINE)
    assert run.json["verdict"] == "pass", run.text


def test_missing_baseline_file_fails_naming_it(pytester: pytest.Pytester) -> None:
    """A baseline file that does not exist: verdict error, the path named."""
    project = _project(pytester)
    run = project.run("-m", "eval", "--baseline", "reports/nope.json")
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    assert any("reports/nope.json" in e for e in run.json["harness_errors"])
    run.result.stdout.fnmatch_lines(["*HARNESS ERROR*reports/nope.json*"])


def test_unreadable_baseline_file_fails(pytester: pytest.Pytester) -> None:
    """A baseline file that is not JSON is a harness error, never a silent pass."""
    project = _project(pytester)
    (project.path / "reports").mkdir()
    (project.path / BASELINE).write_text("{not json", encoding="utf-8")
    run = project.run("-m", "eval", "--baseline", BASELINE)
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    assert any("not valid JSON" in e for e in run.json["harness_errors"])


# -- git refs -------------------------------------------------------------------------------


def _git_project(pytester: pytest.Pytester) -> GenericProject:
    """A project in a git repo whose `main` holds a committed baseline of all-right answers."""
    project = _project(pytester)
    _baseline(project)
    project.git("init", "-q")
    (project.path / ".gitignore").write_text("out.json\n", encoding="utf-8")
    project.git("add", ".")
    project.git("commit", "-q", "-m", "baseline")
    project.git("checkout", "-q", "-b", "feature")
    return project


def test_baseline_from_a_git_ref(pytester: pytest.Pytester) -> None:
    """`--baseline main` reads main:reports/baseline.json; a drop on the branch is a regression."""
    project = _git_project(pytester)
    (project.path / BASELINE).unlink()  # the branch's working copy must not be what is read
    same = project.run("-m", "eval", "--baseline", "main")
    assert same.ret == 0, same.text
    assert same.json["baseline"]["source"] == "main:reports/baseline.json"
    project.answer("violin", instrument("Violin", "drum"))
    worse = project.run("-m", "eval", "--baseline", "main")
    assert worse.ret != 0
    assert worse.json["verdict"] == "regression"
    assert [r["field"] for r in worse.json["regressions"] if r["field"] != "overall"] == ["kind"]


def test_unknown_ref_fails_naming_what_was_looked_for(pytester: pytest.Pytester) -> None:
    """`--baseline no-such-ref`: error, both REF and origin/REF named."""
    project = _git_project(pytester)
    run = project.run("-m", "eval", "--baseline", "no-such-ref")
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    message = " ".join(run.json["harness_errors"])
    assert "no-such-ref:reports/baseline.json" in message
    assert "origin/no-such-ref:reports/baseline.json" in message
    run.result.stdout.fnmatch_lines(["*HARNESS ERROR*no-such-ref:reports/baseline.json*"])


def test_ref_without_a_committed_baseline_fails(pytester: pytest.Pytester) -> None:
    """A ref that exists but holds no baseline fails too."""
    project = _project(pytester)
    project.git("init", "-q")
    project.git("add", "cases")
    project.git("commit", "-q", "-m", "cases only")
    run = project.run("-m", "eval", "--baseline", "main")
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    assert "main:reports/baseline.json" in " ".join(run.json["harness_errors"])


def test_baseline_falls_back_to_origin(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No local `main`: `--baseline main` reads origin/main:reports/baseline.json."""
    project = _git_project(pytester)
    remote: Path = tmp_path_factory.mktemp("remote") / "origin.git"
    project.git("init", "-q", "--bare", str(remote), cwd=remote.parent)
    project.git("remote", "add", "origin", str(remote))
    project.git("push", "-q", "origin", "main")
    project.git("branch", "-q", "-D", "main")
    project.answer("guitar", instrument("Guitar", "violin"))
    run = project.run("-m", "eval", "--baseline", "main")
    assert run.json["baseline"]["source"] == "origin/main:reports/baseline.json", run.text
    assert run.json["verdict"] == "regression"
    assert run.ret != 0


def test_baseline_ref_outside_git_fails(pytester: pytest.Pytester) -> None:
    """A ref when the project is not in a git repository: a clear error."""
    project = _project(pytester)
    run = project.run("-m", "eval", "--baseline", "main")
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    assert run.json["harness_errors"], run.text


# -- update-baseline refusal and the JSON contract ----------------------------------------


def test_update_baseline_refuses_with_harness_errors(pytester: pytest.Pytester) -> None:
    """A case without its cassette: the run fails and the baseline is left alone."""
    project = _project(pytester)
    project.add("nocassette", {"kind": "drum"}, instrument(kind="drum"), cassette=False)
    run = project.run("-m", "eval", "--update-baseline")
    assert run.ret != 0
    assert not (project.path / BASELINE).exists()
    assert run.json["verdict"] == "error"
    assert run.json["baseline_update"].startswith("refused")
    run.result.stdout.fnmatch_lines(["baseline: refused*"])


def test_results_json_has_the_contract_keys_and_types(pytester: pytest.Pytester) -> None:
    """Every documented key of the results JSON with its type."""
    project = _project(pytester)
    project.add("cello", {"name": "Cello", "maker": None}, {"__error__": {"type": "refusal", "message": "no"}})
    _baseline(project)
    run = project.run("-m", "eval", "--baseline", BASELINE)
    data = run.json
    for key in ("config", "summary", "cases", "baseline", "verdict", "regressions", "critical_misses"):
        assert key in data, key
    config = data["config"]
    assert config["model"] == "fake-model" and config["prompt"] == "base"
    assert config["prompt_id"] == project.prompt_id
    assert isinstance(config["schema_id"], str) and len(config["schema_id"]) == 8
    summary = data["summary"]
    assert isinstance(summary["cases"], int) and summary["cases"] == 5
    assert isinstance(summary["errors"], int) and summary["errors"] == 1
    assert isinstance(summary["overall"], float)
    assert isinstance(summary["exact_cases"], float)
    for stats in summary["fields"].values():
        assert isinstance(stats["accuracy"], float) and isinstance(stats["n"], int)
    assert [c["id"] for c in data["cases"]] == sorted(c["id"] for c in data["cases"])
    for case in data["cases"]:
        assert set(case) >= {"id", "error", "fields", "output", "latency_ms", "usage"}
        assert isinstance(case["latency_ms"], int)
        assert set(case["usage"]) <= {"input_tokens", "output_tokens"}
        for scored in case["fields"].values():
            assert set(scored) >= {"score", "expected", "actual"}
            assert scored["score"] in (0, 1)
    cello = run.case("cello")
    assert cello["error"]["type"] == "refusal" and cello["output"] is None
    assert cello["fields"]["maker"] == {**cello["fields"]["maker"], "score": 0, "expected": None, "actual": None}
    assert run.case("violin")["usage"] == {"input_tokens": 100, "output_tokens": 20}
    assert isinstance(data["baseline"]["source"], str) and isinstance(data["baseline"]["overall"], float)
    assert isinstance(data["baseline"]["fields"], dict)
    assert data["verdict"] in ("pass", "regression", "error")
    assert isinstance(data["regressions"], list) and isinstance(data["critical_misses"], list)


def test_results_json_agrees_with_the_exit_status_when_a_report_cannot_be_written(pytester: pytest.Pytester) -> None:
    """An unwritable --eval-report fails the run; the JSON must say so too."""
    project = _project(pytester)
    (project.path / "afile").write_text("not a folder", encoding="utf-8")
    run = project.run("-m", "eval", "--eval-report", "afile/report.html")
    assert run.ret != 0
    assert run.json["verdict"] == "error"
