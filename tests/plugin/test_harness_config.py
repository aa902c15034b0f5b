"""Which `[tool.listingeval]` a run reads: the config file pytest loaded, wherever pytest was started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.settings import read_table

try:
    from tests.plugin.harness_support import MODEL, GenericProject, instrument
except ImportError:  # run from tests/plugin
    from harness_support import MODEL, GenericProject, instrument  # type: ignore[no-redef]

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
