"""The harness alone: no extra installed (no openai, Pillow, xdist, pytest-html, service, MLflow)."""

from __future__ import annotations

import json
import subprocess

import pytest
from scripts.declared import optional_names

from tests.fakes.uninstalled import modules_of, run_without
from tests.plugin.harness_support import BASE_ARGS, GenericProject, instrument

# The generic test task asks its HTTP server with httpx (an extra of ours, but the task's own need).
HIDDEN = [name for name in optional_names() if name != "httpx"]
# fastapi's own framework, absent without the service extra, and imported by the service directly.
HIDDEN_MODULES = [*modules_of(HIDDEN), "starlette"]


def _run(code: str, project: GenericProject) -> subprocess.CompletedProcess[str]:
    return run_without(code, HIDDEN_MODULES, HIDDEN, cwd=project.path)


def test_every_harness_module_imports_without_the_extras(pytester: pytest.Pytester) -> None:
    done = _run(
        "import importlib, pkgutil, pytest_listingeval\n"
        "names = [i.name for i in pkgutil.walk_packages(pytest_listingeval.__path__, 'pytest_listingeval.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n",
        GenericProject(pytester),
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 30


def test_an_eval_run_and_its_reports_work_without_the_extras(pytester: pytest.Pytester) -> None:
    project = GenericProject(pytester)
    project.add("strings/violin", {"name": "Violin", "kind": "violin"}, instrument())
    project.add("strings/viola", {"name": "Viola", "kind": "violin"}, instrument("Violin"))
    args = [arg for arg in BASE_ARGS if arg != "--eval-no-run-record"]
    run = [*args, "-m", "eval", "--eval-json", "out.json", "--eval-report", "report.html", "--eval-markdown", "pr.md"]
    done = _run(f"import pytest\nraise SystemExit(pytest.main({run!r}) or pytest.main({run!r}))\n", project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pip install" not in done.stdout + done.stderr
    data = json.loads((project.path / "out.json").read_text(encoding="utf-8"))
    assert {c["id"]: c["fields"]["name"]["score"] for c in data["cases"]} == {"strings/violin": 1, "strings/viola": 0}
    page = (project.path / "report.html").read_text(encoding="utf-8")
    assert page.count("no thumbnail: pip install pillow") == 2
    assert "data:image/" not in page
    assert (project.path / "pr.md").read_text(encoding="utf-8").startswith("**listingeval: pass**")

    listed = _run("from extractor.cli import main\nraise SystemExit(main(['runs', 'list', '--json']))\n", project)
    assert listed.returncode == 0, listed.stderr
    ids = [entry["id"] for entry in json.loads(listed.stdout)]
    assert len(ids) == 2
    compared = _run(
        f"from extractor.cli import main\nraise SystemExit(main(['runs', 'compare', {ids[1]!r}, {ids[0]!r}, "
        "'--html', 'compare.html']))\n",
        project,
    )
    assert compared.returncode == 0, compared.stderr
    assert (project.path / "compare.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
