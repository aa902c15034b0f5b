"""Which `[tool.listingeval]` a run reads: the config file pytest loaded, wherever pytest was started."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from pytest_listingeval import cmdline, plugin
from pytest_listingeval.cmdline import RESTARTED_ENV
from pytest_listingeval.settings import read_table
from tests.plugin.harness_support import MODEL, GenericProject, instrument

ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider", "--eval-no-run-record")
PYTEST_INI = "[pytest]\npythonpath = .\nmarkers =\n    eval: eval cases\n"
DECOY = '[tool.listingeval]\ntask = "fake_task:task"\nmodel = "decoy-model"\n'


def _project(pytester: pytest.Pytester) -> GenericProject:
    """Two right answers: a run that reads the project's table passes."""
    project = GenericProject(pytester)
    project.add("violin", {"kind": "violin"}, instrument())
    project.add("drum", {"kind": "drum"}, instrument(kind="drum"))
    return project


def _decoy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the project whose pyproject.toml names another model."""
    folder = tmp_path_factory.mktemp("decoy")
    (folder / "pyproject.toml").write_text(DECOY, encoding="utf-8")
    return folder


def _use_pytest_ini(project: GenericProject, **table: Any) -> None:
    """pytest's settings move to pytest.ini; pyproject.toml keeps only `[tool.listingeval]`."""
    pyproject = project.path / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").split("[tool.pytest.ini_options]")[0]
    text += "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
    pyproject.write_text(text, encoding="utf-8")
    (project.path / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")


def _results(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _text(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def _error_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stderr.lines if line.strip()]


# -- the table comes from the config file pytest loaded ------------------------------------


def test_table_comes_from_the_loaded_pyproject_not_the_rootdir(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """--rootdir elsewhere (with its own pyproject.toml): the project's table is still the one read."""
    project = _project(pytester)
    decoy = _decoy(tmp_path_factory)
    out = project.path / "out.json"
    result = pytester.runpytest(*ARGS, "-m", "eval", f"--rootdir={decoy}", f"--eval-json={out}")
    assert result.ret == 0, _text(result)
    assert _results(out)["config"]["model"] == MODEL


@pytest.mark.parametrize("rootdir", ["found", "elsewhere"])
def test_pytest_ini_project_reads_the_pyproject_beside_it(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, rootdir: str
) -> None:
    """pytest.ini holds pytest's settings; the table and its relative paths come from pyproject.toml there."""
    project = _project(pytester)
    _use_pytest_ini(project, baseline="gate/baseline.json")
    extra = [f"--rootdir={_decoy(tmp_path_factory)}"] if rootdir == "elsewhere" else []
    out = project.path / "out.json"
    result = pytester.runpytest(*ARGS, "-m", "eval", "--update-baseline", f"--eval-json={out}", *extra)
    assert result.ret == 0, _text(result)
    assert _results(out)["config"]["model"] == MODEL
    assert (project.path / "gate" / "baseline.json").is_file()
    result.stdout.fnmatch_lines(["configfile: *pytest.ini", "baseline: wrote gate/baseline.json"])


def test_run_from_a_subfolder_finds_the_table(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd cases/sub && pytest -m eval`: the project's table, only that folder's cases, JSON where asked."""
    project = _project(pytester)
    project.add("sub/harp", {"kind": "other"}, instrument("Harp", "other"))
    sub = project.path / "cases" / "sub"
    monkeypatch.chdir(sub)
    result = pytester.runpytest_subprocess(*ARGS, "-m", "eval", "--eval-json", "out.json", timeout=120)
    assert result.ret == 0, _text(result)
    data = _results(sub / "out.json")
    assert data["config"]["model"] == MODEL
    assert [case["id"] for case in data["cases"]] == ["sub/harp"]


@pytest.mark.parametrize("how", ["found", "-c"])
def test_broken_pyproject_is_a_one_line_error_naming_it(pytester: pytest.Pytester, how: str) -> None:
    """pytest.ini beside a pyproject.toml that is not TOML: one error line naming that file."""
    project = _project(pytester)
    _use_pytest_ini(project)
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text("[tool.listingeval\nmodel = 1\n", encoding="utf-8")
    extra = ["-c", "pytest.ini"] if how == "-c" else []
    result = pytester.runpytest(*ARGS, "-m", "eval", *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = _error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR: ") and str(pyproject) in lines[0]


def test_read_table_errors_name_the_file(tmp_path: Path) -> None:
    """A file that is not TOML, or not UTF-8: a one-line UsageError naming it; no file: no table."""
    assert read_table(tmp_path / "pyproject.toml") == {}
    for content in (b"[tool.listingeval\n", b"\xff\xfe = 1\n"):
        path = tmp_path / "pyproject.toml"
        path.write_bytes(content)
        with pytest.raises(pytest.UsageError) as caught:
            read_table(path)
        message = str(caught.value)
        assert str(path) in message and "\n" not in message


# -- value options written with a space: pytest must not take their paths for test paths --
# pytest picks its rootdir and config file from the free arguments before plugins add their
# options, so `--baseline /elsewhere/b.json` looked like a test path there.

FORMS = ("space", "equals")


def _option(name: str, value: Path | str, form: str) -> list[str]:
    return [name, str(value)] if form == "space" else [f"{name}={value}"]


def _gated(pytester: pytest.Pytester, outside: Path) -> GenericProject:
    """A baseline at outside/b.json, then one answer goes wrong: against it, the run is a regression."""
    project = _project(pytester)
    made = project.run("-m", "eval", "--update-baseline")
    assert made.ret == 0, made.text
    (project.path / "reports" / "baseline.json").rename(outside / "b.json")
    project.answer("drum", instrument(kind="guitar"))
    return project


def _subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*ARGS, "-m", "eval", *args, timeout=120)


def _assert_project_config(result: pytest.RunResult, project: GenericProject, restarted: bool) -> None:
    """The run used the project's rootdir and config file, after one restart or none."""
    result.stdout.fnmatch_lines([f"rootdir: {project.path}", "configfile: pyproject.toml"])
    restarts = [line for line in result.stderr.lines if line.startswith("listingeval: ")]
    assert len(restarts) == int(restarted), result.stderr.lines


def _assert_regression(out: Path, baseline: Path) -> None:
    data = _results(out)
    assert data["config"]["model"] == MODEL
    assert data["verdict"] == "regression"
    assert data["baseline"]["source"] == str(baseline)
    assert "kind" in [r["field"] for r in data["regressions"]]


@pytest.mark.parametrize("form", FORMS)
def test_baseline_and_results_json_outside_the_project(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, form: str
) -> None:
    """`--baseline /outside/b.json --eval-json /outside/out.json`, twice (the JSON exists the second time)."""
    outside = tmp_path_factory.mktemp("outside")
    project = _gated(pytester, outside)
    baseline, out = outside / "b.json", outside / "out.json"
    for _ in range(2):
        result = _subprocess(pytester, *_option("--baseline", baseline, form), *_option("--eval-json", out, form))
        assert result.ret == pytest.ExitCode.TESTS_FAILED, _text(result)
        _assert_project_config(result, project, restarted=form == "space")
        _assert_regression(out, baseline)
        out.write_text("{}", encoding="utf-8")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("option", "name"), [("--eval-report", "report.html"), ("--eval-markdown", "comment.md")])
def test_report_and_markdown_outside_the_project(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, option: str, name: str, form: str
) -> None:
    """`--eval-report PATH` / `--eval-markdown PATH` outside the project, twice (the file exists the second time)."""
    project = _project(pytester)
    target = tmp_path_factory.mktemp("outside") / name
    for attempt in range(2):
        result = _subprocess(pytester, *_option(option, target, form))
        assert result.ret == 0, _text(result)
        # The first time the file does not exist yet, so pytest cannot take it for a test path.
        _assert_project_config(result, project, restarted=form == "space" and attempt == 1)
        assert MODEL in target.read_text(encoding="utf-8")
        target.write_text("stale", encoding="utf-8")


def test_every_value_option_with_a_space_at_once(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """All our value options written with spaces, paths existing, some values naming existing folders."""
    outside = tmp_path_factory.mktemp("outside")
    project = _gated(pytester, outside)
    for name in ("base", "model", "judge"):
        (outside / name).mkdir()
    for path in (outside / "out.json", outside / "report.html", outside / "comment.md"):
        path.write_text("{}", encoding="utf-8")
    values = {
        "--baseline": outside / "b.json",
        "--eval-json": outside / "out.json",
        "--eval-report": outside / "report.html",
        "--eval-markdown": outside / "comment.md",
        "--eval-prompt": outside / "base",
        "--eval-model": outside / "model",
        "--eval-judge-model": outside / "judge",
        "--eval-report-url": outside,
        "--eval-gate": "strict",
        "--eval-tolerance": "0",
        "--eval-alpha": "0.05",
        "--eval-repeat": "1",
        "--eval-concurrency": "1",
    }
    args = [word for name, value in values.items() for word in (name, str(value))]
    result = _subprocess(pytester, *args)
    # --eval-prompt names a folder, not a prompt: the run gets that far only with the project's config.
    assert result.ret == pytest.ExitCode.USAGE_ERROR, _text(result)
    assert f"unknown prompt '{outside / 'base'}'" in result.stderr.str()
    _assert_project_config(result, project, restarted=True)


def test_pytest_addopts_values_are_joined_too(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`PYTEST_ADDOPTS="--baseline /outside/b.json"` works like the command line, twice."""
    outside = tmp_path_factory.mktemp("outside")
    project = _gated(pytester, outside)
    baseline, out = outside / "b.json", outside / "out.json"
    monkeypatch.setenv("PYTEST_ADDOPTS", f"--baseline {baseline}")
    for _ in range(2):
        result = _subprocess(pytester, f"--eval-json={out}")
        assert result.ret == pytest.ExitCode.TESTS_FAILED, _text(result)
        _assert_project_config(result, project, restarted=True)
        _assert_regression(out, baseline)


def test_the_pytest_script_restarts_the_same_way(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The `pytest` console script (not `python -m pytest`) with the space form."""
    script = Path(sys.executable).with_name("pytest")
    if not script.is_file():
        pytest.skip(f"no pytest script beside {sys.executable}")
    outside = tmp_path_factory.mktemp("outside")
    project = _gated(pytester, outside)
    baseline, out = outside / "b.json", outside / "out.json"
    out.write_text("{}", encoding="utf-8")
    basetemp = f"--basetemp={pytester.path / 'script-tmp'}"
    result = pytester.run(script, basetemp, *ARGS, "-m", "eval", "--baseline", str(baseline), "--eval-json", str(out))
    assert result.ret == pytest.ExitCode.TESTS_FAILED, _text(result)
    _assert_project_config(result, project, restarted=True)
    _assert_regression(out, baseline)


def test_run_from_a_subfolder_with_a_baseline_outside(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd cases/sub && pytest -m eval --baseline /outside/b.json`: still the project's table.

    Run from a sub-folder the run covers only that folder, so the gate refuses it as partial.
    """
    outside = tmp_path_factory.mktemp("outside")
    project = _gated(pytester, outside)
    project.add("sub/harp", {"kind": "other"}, instrument("Harp", "other"))
    sub = project.path / "cases" / "sub"
    monkeypatch.chdir(sub)
    result = _subprocess(pytester, "--baseline", str(outside / "b.json"), "--eval-json", "out.json")
    assert result.ret == 1, _text(result)
    _assert_project_config(result, project, restarted=True)
    data = _results(sub / "out.json")
    assert data["config"]["model"] == MODEL and data["verdict"] == "error" and data["partial"] is True
    assert data["comparison"]["added_cases"] == ["sub/harp"]
    assert any(e.startswith("partial run") for e in data["harness_errors"])


@pytest.mark.parametrize("where", ["args", "PYTEST_ADDOPTS"])
def test_in_process_run_says_what_to_write(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """pytest.main() from code cannot be restarted: a one-line usage error with the `=` form to write."""
    outside = tmp_path_factory.mktemp("outside")
    _gated(pytester, outside)
    baseline = outside / "b.json"
    if where == "args":
        result = pytester.runpytest(*ARGS, "-m", "eval", "--baseline", str(baseline))
    else:
        monkeypatch.setenv("PYTEST_ADDOPTS", f"--baseline {baseline}")
        result = pytester.runpytest(*ARGS, "-m", "eval")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = _error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ERROR: pytest took --baseline {baseline} for a test path")
    suffix = " in PYTEST_ADDOPTS" if where == "PYTEST_ADDOPTS" else ""
    assert lines[0].endswith(f"write --baseline={baseline}{suffix}")


def test_in_process_run_with_values_inside_the_project_is_left_alone(pytester: pytest.Pytester) -> None:
    """Existing paths that do not change pytest's rootdir or config file (the usual case) need nothing."""
    project = _project(pytester)
    assert project.run("-m", "eval", "--update-baseline").ret == 0
    (project.path / "out.json").write_text("{}", encoding="utf-8")
    result = pytester.runpytest(*ARGS, "-m", "eval", "--baseline", "reports/baseline.json", "--eval-json", "out.json")
    assert result.ret == 0, _text(result)
    assert _results(project.path / "out.json")["verdict"] == "pass"


def test_a_restarted_run_does_not_restart_again(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a restart did not help, the second process stops with the usage error instead of looping."""
    outside = tmp_path_factory.mktemp("outside")
    _gated(pytester, outside)
    monkeypatch.setenv(RESTARTED_ENV, "1")
    result = _subprocess(pytester, "--baseline", str(outside / "b.json"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR, _text(result)
    lines = _error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("ERROR: pytest took --baseline"), lines


# -- the pieces ----------------------------------------------------------------------------


class _Recorder:
    """Stands in for pytest's parser and option group: keeps what the plugin adds."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, Any]] = {}

    def getgroup(self, *args: Any, **kwargs: Any) -> _Recorder:
        return self

    def addoption(self, *names: str, **attrs: Any) -> None:
        for name in names:
            self.options[name] = attrs


def test_value_options_are_the_plugins_options_that_take_a_value() -> None:
    """cmdline's list stays in step with plugin.py: every option of ours that is not a flag."""
    recorder = _Recorder()
    plugin.pytest_addoption(cast(pytest.Parser, recorder))
    flags = {"store_true", "store_false", "store_const", "count"}
    expected = {name for name, attrs in recorder.options.items() if attrs.get("action", "store") not in flags}
    assert expected == set(cmdline.VALUE_OPTIONS)


def test_misread_pairs_are_value_options_followed_by_an_existing_path(tmp_path: Path) -> None:
    """Only a separate value that exists counts; `=`, missing paths, flags and words after `--` do not."""
    (tmp_path / "b.json").write_text("{}", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    tokens = [
        "--baseline", "b.json",
        "--eval-json", "missing.json",
        "--eval-report=b.json",
        "--update-baseline", "sub",
        "--eval-markdown", "sub::x",
        "--eval-prompt", "-x",
        "--", "--eval-json", "b.json",
    ]  # fmt: skip
    starts = cmdline.misread_pairs(tokens, tmp_path)
    assert starts == [0, 7]
    assert cmdline.join_pairs(tokens, starts) == [
        "--baseline=b.json",
        *tokens[2:7],
        "--eval-markdown=sub::x",
        *tokens[9:],
    ]


def test_pytest_choice_is_pytests_own(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The one use of pytest internals: the rootdir and config file pytest picks for a command line."""
    project = _project(pytester)
    outside = tmp_path_factory.mktemp("outside")
    (outside / "b.json").write_text("{}", encoding="utf-8")
    parsers: list[pytest.Parser] = []

    class Keep:
        def pytest_addoption(self, parser: pytest.Parser) -> None:
            parsers.append(parser)

    pytester.plugins.append(Keep())
    joined = ["-m", "eval", f"--baseline={outside / 'b.json'}", "cases"]
    config = pytester.parseconfig(*joined)
    expected = (config.rootpath, config.inipath)
    assert expected == (project.path, project.path / "pyproject.toml")
    spaced = ["-m", "eval", "--baseline", str(outside / "b.json"), "cases"]
    assert cmdline.pytest_choice(parsers[-1], joined, project.path) == expected
    assert cmdline.pytest_choice(parsers[-1], spaced, project.path) == expected
    elsewhere = [f"--rootdir={outside}", "-c", str(project.path / "pyproject.toml")]
    assert cmdline.pytest_choice(parsers[-1], elsewhere, project.path) == (outside, project.path / "pyproject.toml")
