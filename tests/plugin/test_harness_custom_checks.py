"""Custom checks in whole runs: from a conftest.py and an entry point, rejected, raising, under xdist, in the gate."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.plugin.harness_support import Run
from tests.plugin.typed_support import TypedProject, invoice

# Each factory call appends "<pid> <argument>" to factory_calls.log, so a test can count them.
CONFTEST = """
import os
from pathlib import Path

LOG = Path(__file__).parent / "factory_calls.log"


def multiple_of(argument):
    with LOG.open("a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {argument}\\n")
    if not isinstance(argument, int) or isinstance(argument, bool) or argument <= 0:
        raise ValueError("needs a positive whole number")

    def check(actual):
        if isinstance(actual, str):
            raise TypeError(f"cannot take a multiple of text {actual!r}")
        holds = actual % argument == 0
        return holds, f"{actual} is {'' if holds else 'not '}a multiple of {argument}"

    return check


def pytest_listingeval_checks():
    return {"multiple_of": multiple_of}
"""


def _project(pytester: pytest.Pytester, conftest: str = CONFTEST) -> TypedProject:
    project = TypedProject(pytester)
    (project.path / "conftest.py").write_text(conftest, encoding="utf-8")
    return project


def _factory_calls(project: TypedProject) -> list[tuple[str, str]]:
    log = project.path / "factory_calls.log"
    if not log.is_file():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()
    return [(pid, argument) for pid, argument in (line.split(" ", 1) for line in lines)]


def _details(run: Run, case_id: str, field: str) -> list[tuple[str, bool, str]]:
    checks = run.case(case_id)["fields"][field]["checks"]
    return [(c["check"], c["passed"], c["detail"]) for c in checks]


def test_a_conftest_check_scores_with_its_reasons_and_is_built_once_per_use(pytester: pytest.Pytester) -> None:
    """Pass and fail with the check's own reason; inside `each` on a path too; one factory call per use."""
    project = _project(pytester)
    project.add("hit", {"item_count": {"multiple_of": 3}}, invoice(item_count=3))
    project.add("miss", {"item_count": {"multiple_of": 2}}, invoice(item_count=3))
    project.add("each", {"line_items[*].qty": {"each": {"multiple_of": 1}}}, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert _details(run, "hit", "item_count") == [("multiple_of", True, "3 is a multiple of 3")]
    assert _details(run, "miss", "item_count") == [("multiple_of", False, "3 is not a multiple of 2")]
    assert run.scores("each") == {"line_items[*].qty": 1}
    assert sorted(argument for _, argument in _factory_calls(project)) == ["1", "2", "3"]


def test_a_check_raising_while_scoring_fails_that_check_only(pytester: pytest.Pytester) -> None:
    """The exception becomes the reason; the case is scored, the run is not a harness error."""
    project = _project(pytester)
    project.add("text", {"item_count": {"multiple_of": 3}, "total": 101}, invoice(item_count="three"))
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.json["verdict"] == "pass" and run.json["harness_errors"] == []
    assert run.scores("text") == {"item_count": 0, "total": 1}
    assert _details(run, "text", "item_count") == [
        ("multiple_of", False, "multiple_of raised TypeError: cannot take a multiple of text 'three'")
    ]


def test_a_factory_rejecting_its_argument_is_a_collection_error(pytester: pytest.Pytester) -> None:
    """ValueError from the factory: a collection error naming the file, the field and the factory's message."""
    project = _project(pytester)
    project.add("good", {"item_count": {"multiple_of": 3}}, invoice())
    project.add("bad", {"line_items[0].qty": {"multiple_of": 0}}, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 1
    assert run.json["verdict"] == "error"
    message = "cases/bad.yaml: field 'line_items[0].qty': check 'multiple_of' rejects 0: needs a positive whole number"
    assert any(line.endswith(message) for line in run.result.stdout.lines), run.text
    assert "Traceback" not in run.text


@pytest.mark.parametrize(
    ("registrations", "message"),
    [
        ('{"approx": lambda argument: bool}', "custom check 'approx' clashes with the built-in check 'approx'"),
        ('{"bad name": lambda argument: bool}', "a check name must be an identifier, got 'bad name'"),
        ('["multiple_of"]', "must give a dict of check name to factory, got ['multiple_of']"),
    ],
)
def test_a_bad_registration_is_an_error_for_every_case_file(
    pytester: pytest.Pytester, registrations: str, message: str
) -> None:
    """A clash with a built-in check, a bad name or a bad return: every case file reports it clearly."""
    project = _project(pytester, f"def pytest_listingeval_checks():\n    return {registrations}\n")
    project.add("one", {"total": 101}, invoice())
    project.add("two", {"total": 101}, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 1
    assert run.json["verdict"] == "error"
    errors = [e for e in run.json["harness_errors"] if message in e]
    assert len(errors) == 2, run.json["harness_errors"]
    assert all("pytest_listingeval_checks in " in e and "conftest.py" in e for e in errors)


def _entry_point_distribution(folder: Path, name: str = "even") -> None:
    """A distribution registering `even` in the listingeval.checks entry point group, as pip would install it."""
    info = folder / "evenchecks-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: evenchecks\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[listingeval.checks]\n{name} = evenchecks:even\n", encoding="utf-8")
    module = """
        def even(argument):
            if not isinstance(argument, bool):
                raise ValueError("say true or false")
            return lambda actual: (actual % 2 == 0) is argument
    """
    (folder / "evenchecks.py").write_text(textwrap.dedent(module), encoding="utf-8")


@pytest.fixture
def installed(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder on sys.path holding an installed-looking distribution with a check entry point."""
    folder = tmp_path_factory.mktemp("site")
    _entry_point_distribution(folder)
    pytester.syspathinsert(folder)
    return folder


def test_an_entry_point_check_works_without_a_conftest(pytester: pytest.Pytester, installed: Path) -> None:
    """`listingeval.checks` entry points register a check by their name."""
    project = TypedProject(pytester)
    project.add("even", {"item_count": {"even": False}, "line_items[1].qty": {"even": True}}, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.scores("even") == {"item_count": 1, "line_items[1].qty": 1}
    assert _details(run, "even", "item_count") == [("even", True, "even passed on 3")]


def test_an_entry_point_and_a_conftest_registering_one_name_is_an_error(
    pytester: pytest.Pytester, installed: Path
) -> None:
    """Two registrations of `even`: the message names both."""
    project = _project(pytester, "def pytest_listingeval_checks():\n    return {'even': lambda argument: bool}\n")
    project.add("one", {"total": 101}, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 1
    (error,) = [e for e in run.json["harness_errors"] if "registered twice" in e]
    assert "custom check 'even' is registered twice: by pytest_listingeval_checks in " in error
    assert "entry point even = evenchecks:even of evenchecks (listingeval.checks)" in error


def test_custom_checks_under_xdist_and_in_the_gate(pytester: pytest.Pytester) -> None:
    """-n 2: each worker registers the checks itself; the gate re-scores the baseline with them too."""
    project = _project(pytester)
    project.add("c1", {"item_count": {"multiple_of": 3}}, invoice(item_count=3))
    project.add("c2", {"item_count": {"multiple_of": 2}}, invoice(item_count=4))
    project.add("c3", {"total": 101}, invoice())
    wrote = project.run("-m", "eval", "--update-baseline")
    assert wrote.ret == 0, wrote.text
    # Relabel c1: the baseline's stored answer (3) must be re-scored with multiple_of 2, which it fails.
    project.write_case("c1", {"item_count": {"multiple_of": 2}}, seed=1)
    (project.path / "factory_calls.log").unlink()
    run = project.run("-m", "eval", "--baseline", "reports/baseline.json", "-n", "2")
    assert run.ret == 0, run.text
    assert run.scores("c1") == {"item_count": 0} and run.scores("c2") == {"item_count": 1}
    comparison = run.json["comparison"]
    assert comparison["unscorable_cases"] == []
    assert [r["case"] for r in comparison["relabels"]] == ["c1"]
    assert comparison["flips"] == []  # 0 -> 0 once the baseline is re-scored under today's label
    assert comparison["fields"]["item_count"]["baseline"] == 0.5
    assert run.json["verdict"] == "pass"
    # Two workers collected every case (and the controller read c1 and c2 again to re-score).
    pids = {pid for pid, _ in _factory_calls(project)}
    assert len(pids) >= 3, _factory_calls(project)
    assert "c1" not in str(run.json["harness_errors"])
