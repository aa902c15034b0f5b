"""Ways a branch that is worse could pass the gate, each tried as a user would; serially and with -n 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugin.harness_support import GenericProject, Run, instrument

BASELINE = "reports/baseline.json"
KINDS = ["violin", "guitar", "drum", "other"]
MODES = [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist")]


def _project(pytester: pytest.Pytester, cases: int = 8) -> GenericProject:
    """`cases` cases in two folders, each scoring `name` and `kind`, all answered right, with a baseline."""
    project = GenericProject(pytester)
    for i in range(cases):
        kind = KINDS[i % 4]
        folder = "strings" if i % 2 else "drums"
        project.add(f"{folder}/c{i}", {"name": f"Item {i}", "kind": kind}, instrument(f"Item {i}", kind))
    run = project.run("-m", "eval", "--update-baseline")
    assert run.ret == 0, run.text
    return project


def _gate(project: GenericProject, *args: str) -> Run:
    return project.run("-m", "eval", f"--baseline={BASELINE}", "--eval-markdown=out.md", *args)


def _markdown(project: GenericProject) -> str:
    return (project.path / "out.md").read_text(encoding="utf-8")


def _errors(run: Run) -> str:
    return " ".join(run.json["harness_errors"])


def _break(project: GenericProject, *case_ids: str) -> None:
    """The model now gets `kind` wrong on these cases."""
    for case_id in case_ids:
        i = int(case_id.rsplit("c", 1)[1])
        project.answer(case_id, instrument(f"Item {i}", "other" if KINDS[i % 4] != "other" else "violin"))


# -- partial runs -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "narrowing",
    [
        pytest.param(("-k", "c1 or c2"), id="keyword"),
        pytest.param(("cases/strings",), id="folder"),
        pytest.param(("cases/strings/c1.yaml", "cases/drums/c2.yaml"), id="files"),
        pytest.param(("--deselect", "cases/drums/c0.yaml::drums/c0"), id="deselect"),
        pytest.param(("-m", "eval and not eval"), id="marker"),
    ],
)
def test_a_partial_run_fails_naming_what_was_not_run(
    pytester: pytest.Pytester, narrowing: tuple[str, ...], mode: tuple[str, ...]
) -> None:
    """A regressed case left out of the run cannot hide the drop: error, exit 1, the missing cases named."""
    project = _project(pytester)
    _break(project, "drums/c0", "drums/c4")
    run = _gate(project, *narrowing, *mode)
    assert run.ret == 1, run.text
    assert run.json["verdict"] == "error"
    assert run.json["partial"] is True
    assert "partial run" in _errors(run) and "drums/c0" in _errors(run)
    assert "--eval-allow-subset" in _errors(run)
    assert "partial" in _markdown(project).splitlines()[0]


def test_running_from_a_cases_subfolder_is_partial(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd cases/strings && pytest -m eval --baseline ...` covers only that folder: error."""
    project = _project(pytester)
    _break(project, "drums/c0")
    monkeypatch.chdir(project.path / "cases" / "strings")
    out = project.path / "sub.json"
    result = pytester.runpytest_subprocess(
        *("-p", "no:cacheprovider", "--eval-no-run-record", "-m", "eval"),
        f"--baseline={project.path / BASELINE}",
        f"--eval-json={out}",
        timeout=120,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert result.ret == 1, result.stdout.str()
    assert data["verdict"] == "error" and data["partial"] is True
    assert "drums/c0" in " ".join(data["harness_errors"])


@pytest.mark.parametrize("mode", MODES)
def test_deleted_case_files_are_removed_cases_and_fail(pytester: pytest.Pytester, mode: tuple[str, ...]) -> None:
    """Deleting the regressed cases' files does not pass: they are removed baseline cases."""
    project = _project(pytester)
    for case_id in ("drums/c0", "drums/c4"):
        (project.path / "cases" / f"{case_id}.yaml").unlink()
    run = _gate(project, *mode)
    assert run.ret == 1, run.text
    assert run.json["verdict"] == "error"
    assert run.json["coverage"]["removed"] == ["drums/c0", "drums/c4"]
    assert "no longer exist" in _errors(run)


@pytest.mark.parametrize("mode", MODES)
def test_an_opted_in_subset_gates_on_what_ran_and_says_partial(
    pytester: pytest.Pytester, mode: tuple[str, ...]
) -> None:
    """--eval-allow-subset: exit 0 on a clean subset, partial in the JSON and on the markdown's first line."""
    project = _project(pytester)
    run = _gate(project, "-k", "strings", "--eval-allow-subset", *mode)
    assert run.ret == 0, run.text
    assert run.json["verdict"] == "pass"
    assert run.json["partial"] is True
    assert run.json["comparison"]["shared_cases"] == 4
    assert "partial" in _markdown(project).splitlines()[0]


def test_a_subset_that_regressed_still_fails(pytester: pytest.Pytester) -> None:
    """Opting into a subset does not hide a drop inside it."""
    project = _project(pytester)
    _break(project, "strings/c1")
    run = _gate(project, "-k", "strings", "--eval-allow-subset")
    assert run.ret == 1
    assert run.json["verdict"] == "regression"


@pytest.mark.parametrize(
    "narrowing",
    [
        pytest.param(("-k", "strings"), id="keyword"),
        pytest.param(("cases/strings",), id="folder"),
        pytest.param(("cases/strings/c1.yaml",), id="file"),
        pytest.param(("--deselect", "cases/drums/c0.yaml::drums/c0"), id="deselect"),
    ],
)
def test_update_baseline_is_refused_for_a_partial_selection(
    pytester: pytest.Pytester, narrowing: tuple[str, ...]
) -> None:
    """A baseline of part of the case set is never written, however the run was narrowed."""
    project = _project(pytester)
    before = (project.path / BASELINE).read_text(encoding="utf-8")
    _break(project, "strings/c1")
    run = project.run("-m", "eval", "--update-baseline", *narrowing)
    assert run.ret == 1, run.text
    assert run.json["verdict"] == "error"
    assert run.json["baseline_update"].startswith("refused")
    assert "--update-baseline needs the whole case set" in _errors(run)
    assert (project.path / BASELINE).read_text(encoding="utf-8") == before


# -- relabels ---------------------------------------------------------------------------------


def _relabel(project: GenericProject, case_id: str, expected: dict[str, Any]) -> None:
    path = project.path / "cases" / f"{case_id}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["expected"] = expected
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize("mode", MODES)
def test_relabel_to_match_wrong_answers_is_listed_and_rescored(
    pytester: pytest.Pytester, mode: tuple[str, ...]
) -> None:
    """The model now says `other` for c0 and the PR relabels c0 to `other`: the baseline's own answer
    (drum) is re-scored against the new label, the relabel is listed in JSON and markdown, exit 0."""
    project = _project(pytester)
    _break(project, "drums/c0")
    _relabel(project, "drums/c0", {"name": "Item 0", "kind": "other"})
    run = _gate(project, *mode)
    assert run.ret == 0, run.text
    data = run.json
    assert data["relabelled"] == ["drums/c0"]
    relabel = data["comparison"]["relabels"][0]
    assert relabel["fields"] == ["kind"]
    assert relabel["before"] == {"kind": "violin"} and relabel["after"] == {"kind": "other"}
    # The baseline answer (violin) is wrong under the new label, the new answer right: an "improvement"
    # a reviewer sees next to the relabel, not a silent pass.
    assert data["comparison"]["fields"]["kind"]["flipped_up"] == 1
    markdown = _markdown(project)
    assert "drums/c0" in markdown and "relabel" in markdown.lower()


def test_loosened_check_is_listed(pytester: pytest.Pytester) -> None:
    """Loosening a check to accept a wrong answer ({regex: ...}) is a relabel, shown with before and after."""
    project = _project(pytester)
    project.answer("strings/c1", instrument("Itemx 1", "guitar"))
    _relabel(project, "strings/c1", {"name": {"regex": "^Item"}, "kind": "guitar"})
    run = _gate(project)
    assert run.json["relabelled"] == ["strings/c1"]
    assert run.json["comparison"]["relabels"][0]["after"] == {"name": {"regex": "^Item"}}
    assert run.json["verdict"] == "pass"


def test_removing_a_field_from_cases_is_listed(pytester: pytest.Pytester) -> None:
    """Dropping the regressed field from the cases' expectations is listed for every case touched."""
    project = _project(pytester)
    _break(project, "drums/c0", "drums/c4")
    for i in (0, 4):
        _relabel(project, f"drums/c{i}", {"name": f"Item {i}"})
    run = _gate(project)
    assert run.json["relabelled"] == ["drums/c0", "drums/c4"]
    assert all(r["fields"] == ["kind"] and r["after"] == {"kind": None} for r in run.json["comparison"]["relabels"])


def test_a_stricter_label_with_unchanged_answers_is_no_regression(pytester: pytest.Pytester) -> None:
    """Relabelling applies to both sides: the same answers under a stricter label fail on both, no drop."""
    project = _project(pytester)
    _relabel(project, "strings/c1", {"name": "Item one", "kind": "guitar"})
    run = _gate(project)
    assert run.ret == 0, run.text
    assert run.json["verdict"] == "pass"
    assert run.json["regressions"] == []
    assert run.json["comparison"]["fields"]["name"]["baseline"] == run.json["comparison"]["fields"]["name"]["current"]
    assert run.json["relabelled"] == ["strings/c1"]


def test_changed_judge_rubric_is_listed_not_compared(pytester: pytest.Pytester) -> None:
    """A judge check cannot be re-scored offline: a changed rubric leaves that field out, listed;
    the case's other fields are still compared, so the change cannot hide a drop on them."""
    project = GenericProject(pytester)
    project.add("a", {"kind": "violin", "blurb": {"judge": "mentions wood"}}, instrument(kind="violin"))
    project.add("b", {"kind": "drum"}, instrument(kind="drum"))
    assert project.run("-m", "eval", "--update-baseline").ret == 0
    _relabel(project, "a", {"kind": "violin", "blurb": {"judge": "mentions strings"}})
    project.answer("a", instrument(kind="drum"))
    run = _gate(project)
    comparison = run.json["comparison"]
    assert comparison["unscorable_cases"] == ["a"]
    assert comparison["unscorable_fields"] == {"a": ["blurb"]}
    assert comparison["shared_cases"] == 2 and "blurb" not in comparison["fields"]
    assert run.json["verdict"] == "regression"
    assert [r["field"] for r in run.json["regressions"]] == ["kind", "overall"]


def test_a_tolerance_loosened_in_pyproject_is_reported_everywhere(pytester: pytest.Pytester) -> None:
    """A pull request that raises `[tool.listingeval] tolerance` to let its drop through: reported."""
    project = _project(pytester)
    _break(project, "drums/c0")
    project.write_pyproject(tolerance=50)
    run = _gate(project, "--eval-report=out.html")
    assert run.json["verdict"] == "pass"
    assert run.json["policy_changes"] == {"tolerance": [0.0, 0.5]}
    assert "Gate policy changed since the baseline: tolerance 0.0 \u2192 50.0 pts" in _markdown(project)
    assert "gate policy changed since the baseline" in (project.path / "out.html").read_text(encoding="utf-8")
    run.result.stdout.fnmatch_lines(["*POLICY gate policy changed since the baseline: tolerance 0.0*50.0 pts*"])


# -- foreign baselines and harness faults ---------------------------------------------------


def test_a_baseline_sharing_no_case_is_an_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Another project's baseline (no case in common) never passes."""
    project = _project(pytester)
    document = json.loads((project.path / BASELINE).read_text(encoding="utf-8"))
    document["cases"] = {f"other/{k}": v for k, v in document["cases"].items()}
    (project.path / BASELINE).write_text(json.dumps(document), encoding="utf-8")
    run = _gate(project, "--eval-allow-subset")
    assert run.ret == 1
    assert run.json["verdict"] == "error"
    assert "--eval-min-shared" in _errors(run)


def test_a_baseline_of_another_task_is_an_error(pytester: pytest.Pytester) -> None:
    """A baseline written for another task names both tasks."""
    project = _project(pytester)
    document = json.loads((project.path / BASELINE).read_text(encoding="utf-8"))
    document["config"]["task"] = "receipts.eval:task"
    (project.path / BASELINE).write_text(json.dumps(document), encoding="utf-8")
    run = _gate(project)
    assert run.ret == 1
    assert "receipts.eval:task" in _errors(run) and "another" in _errors(run)


def test_min_shared_is_enforced(pytester: pytest.Pytester) -> None:
    """--eval-min-shared 9 on 8 shared cases is an error."""
    project = _project(pytester)
    run = _gate(project, "--eval-min-shared", "9")
    assert run.ret == 1 and run.json["verdict"] == "error"


def test_an_old_baseline_without_outputs_says_regenerate(pytester: pytest.Pytester) -> None:
    """A baseline from before outputs were stored cannot be re-scored: a one-line error that says what to do."""
    project = _project(pytester)
    document = json.loads((project.path / BASELINE).read_text(encoding="utf-8"))
    for case in document["cases"].values():
        del case["outputs"]
    (project.path / BASELINE).write_text(json.dumps(document), encoding="utf-8")
    run = _gate(project)
    assert run.ret == 1
    assert "--update-baseline" in _errors(run)


@pytest.mark.parametrize("mode", MODES)
def test_a_crashed_case_is_an_error_not_a_regression(pytester: pytest.Pytester, mode: tuple[str, ...]) -> None:
    """A task crash on a critical case: verdict error, the case left out of the comparison, no field regression."""
    project = GenericProject(pytester)
    for i in range(4):
        project.add(f"c{i}", {"kind": "violin", "name": "V"}, instrument("V", "violin"), critical=["kind"])
    assert project.run("-m", "eval", "--update-baseline").ret == 0
    project.answer("c2", {"__raise__": "boom"})
    run = _gate(project, *mode)
    data = run.json
    assert run.ret == 1
    assert data["verdict"] == "error"
    assert data["regressions"] == [] and data["critical_misses"] == []
    assert data["comparison"]["errored_cases"] == ["c2"]
    assert data["comparison"]["shared_cases"] == 3
    assert data["summary"]["harness_errors"] == 1 and data["summary"]["overall"] == 1.0
    assert "REGRESSION" not in run.text and "CRITICAL MISS" not in run.text


# -- one verdict everywhere -------------------------------------------------------------------


FAILING_MLFLOW = """
import pytest_listingeval.finish as finish


class _Run:
    run_id = "r1"

    def __init__(self, *args, **kwargs):
        pass

    def log(self, outcome, artifacts):
        raise RuntimeError("tracking server said 503")

    def close(self, ok):
        pass


finish.MlflowRun = _Run
"""


@pytest.mark.parametrize("mode", MODES)
def test_an_output_fault_after_rendering_makes_every_output_say_error(
    pytester: pytest.Pytester, mode: tuple[str, ...]
) -> None:
    """MLflow fails after the report files were written: all of them are rewritten as `error`."""
    project = _project(pytester)
    (project.path / "conftest.py").write_text(FAILING_MLFLOW, encoding="utf-8")
    run = _gate(project, "--eval-mlflow", "--eval-report=out.html", *mode)
    assert run.ret == 1, run.text
    assert run.json["verdict"] == "error"
    assert "MLflow" in _errors(run)
    assert _markdown(project).startswith("**listingeval: error")
    html = (project.path / "out.html").read_text(encoding="utf-8")
    assert 'class="verdict verdict--error"' in html and 'class="verdict verdict--pass"' not in html
    run.result.stdout.fnmatch_lines(["*listingeval verdict: ERROR*"])


def test_an_unwritable_output_is_an_error_in_every_other_output(pytester: pytest.Pytester) -> None:
    """A report path that cannot be written: the JSON, markdown and exit status all say error."""
    project = _project(pytester)
    (project.path / "afile").write_text("x", encoding="utf-8")
    run = _gate(project, "--eval-report=afile/report.html")
    assert run.ret == 1
    assert run.json["verdict"] == "error"
    assert _markdown(project).startswith("**listingeval: error")


# -- never silent ---------------------------------------------------------------------------


def test_results_json_says_incomplete_while_running_and_after_a_kill(pytester: pytest.Pytester) -> None:
    """A serial run that dies mid-way leaves `verdict: incomplete`, never a stale or absent verdict."""
    project = _project(pytester, cases=3)
    project.answer("drums/c2", {"__exit__": 3})
    run = project.run("-m", "eval", subprocess=True)
    assert run.ret == 3
    assert run.json["verdict"] == "incomplete" and run.json["version"] == 1


def test_the_results_json_carries_its_version(pytester: pytest.Pytester) -> None:
    """Every results document says which version of the format it is."""
    project = _project(pytester, cases=2)
    run = _gate(project)
    assert run.json["version"] == 1
    assert json.loads((project.path / BASELINE).read_text(encoding="utf-8"))["version"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_an_eval_run_without_cases_exits_1_not_5(pytester: pytest.Pytester, mode: tuple[str, ...]) -> None:
    """`pytest -m eval` on an empty case set: exit 1 and the cases folder named (pytest alone would exit 5)."""
    project = GenericProject(pytester)
    (project.path / "cases").mkdir()
    result = pytester.runpytest("-p", "no:cacheprovider", "--eval-no-run-record", "-m", "eval", *mode)
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*no eval case was collected*cases/*"])


def test_a_gate_without_any_case_folder_exits_1(pytester: pytest.Pytester) -> None:
    """`--baseline` in a project whose cases folder does not exist: exit 1 naming it."""
    project = GenericProject(pytester)
    run = project.run("-m", "eval", "--baseline=reports/baseline.json")
    assert run.ret == 1
    assert "no eval case was collected" in _errors(run) and "cases/" in _errors(run)


def test_not_eval_marker_expression_is_not_an_eval_run(pytester: pytest.Pytester) -> None:
    """`-m "not (eval)"` on unit tests: their result only, exit 0, no eval summary."""
    project = _project(pytester, cases=2)
    pytester.makepyfile(test_unit="def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--eval-no-run-record", "-m", "not (eval)", "test_unit.py")
    assert result.ret == 0, result.stdout.str()
    assert "listingeval verdict" not in result.stdout.str()
    del project
