"""Every requirement users install has a lower bound that scripts/min_versions.py pins and CI tests."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def min_versions(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/min_versions.py as a module (it imports its neighbours as a script does)."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    return importlib.import_module("min_versions")


@pytest.mark.parametrize(
    ("line", "bound"),
    [("a>=1.2", "1.2"), ("a>=1.2,<2", "1.2"), ("a~=1.4", "1.4"), ("a==3.1.4", "3.1.4"), ("a<2", None), ("a", None)],
)
def test_lower_bound(min_versions: ModuleType, line: str, bound: str | None) -> None:
    assert min_versions.lower_bound(Requirement(line)) == bound


def test_every_user_facing_requirement_and_test_tool_is_pinned(min_versions: ModuleType) -> None:
    declared = importlib.import_module("declared")
    user_extras = [e for e in declared.extra_names() if e not in min_versions.NOT_USER_FACING]
    pinned = min_versions.pins(user_extras)
    wanted = {name for extra in [None, *user_extras] for name in declared.names(extra)}
    assert wanted <= set(pinned)
    assert {"pytest-xdist", "pytest-html", "httpx"} <= set(pinned)  # the test extra's own tools
    assert "schemathesis" not in pinned and "ruff" not in pinned  # dev-only tools are not pinned low


def test_a_requirement_without_a_lower_bound_is_refused(
    min_versions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(min_versions, "requirements", lambda extra, unfold=True: [Requirement("loose<3")])
    with pytest.raises(min_versions.StepFailed, match=r"loose<3 \(base\) declares no lower bound"):
        min_versions.pins([])


def test_ci_tests_the_lowest_and_the_newest_versions_and_the_installs() -> None:
    jobs = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))["jobs"]
    assert jobs["versions"]["strategy"]["matrix"]["versions"] == ["lowest", "newest"]
    runs = "\n".join(step.get("run", "") for step in jobs["versions"]["steps"])
    assert "scripts/min_versions.py" in runs and "--newest" in runs
    assert "scripts/check_install.py" in "\n".join(step.get("run", "") for step in jobs["install"]["steps"])
    local = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/check_install.py" in local and "scripts/min_versions.py" in local
