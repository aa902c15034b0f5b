"""What pyproject.toml declares: the requirements of the base and of each extra, own extras unfolded."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "listingeval"


def _project() -> dict[str, object]:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert isinstance(table, dict)
    return table


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): Pillow, pillow and PILLOW are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_names() -> list[str]:
    """The extras pyproject.toml defines."""
    extras = _project().get("optional-dependencies") or {}
    assert isinstance(extras, dict)
    return sorted(extras)


def requirements(extra: str | None, *, unfold: bool = True) -> list[Requirement]:
    """The requirements of an extra (None: the base), with `listingeval[x]` replaced by x's own (or left out)."""
    project = _project()
    if extra is None:
        lines = project.get("dependencies") or []
    else:
        extras = project.get("optional-dependencies") or {}
        assert isinstance(extras, dict)
        if extra not in extras:
            raise KeyError(f"pyproject.toml has no extra {extra!r} (it has: {', '.join(sorted(extras))})")
        lines = extras[extra]
    assert isinstance(lines, list)
    found: list[Requirement] = []
    for line in lines:
        requirement = Requirement(line)
        if canonical(requirement.name) == PROJECT:
            for inner in sorted(requirement.extras) if unfold else ():
                found += requirements(inner)
        else:
            found.append(requirement)
    return found


def names(extra: str | None) -> list[str]:
    """The canonical distribution names of an extra (None: the base), in declaration order."""
    return [canonical(r.name) for r in requirements(extra)]


def optional_names() -> list[str]:
    """Every distribution an extra names and the base does not: what the base alone never installs."""
    base = set(names(None))
    return sorted({name for extra in extra_names() for name in names(extra)} - base)
