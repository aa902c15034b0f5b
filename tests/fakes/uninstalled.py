"""Run Python in a subprocess where some packages look uninstalled: not importable, no metadata."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from scripts.declared import ROOT, canonical

PYTEST_DISTRIBUTIONS = ("pytest", "pytest-xdist", "pytest-html", "pytest-recording", "vcrpy")


def modules_of(distributions: Iterable[str]) -> list[str]:
    """The top-level modules those of `distributions` that are installed provide (Pillow gives PIL...)."""
    wanted = {canonical(name) for name in distributions}
    provided = importlib.metadata.packages_distributions()
    return sorted(module for module, owners in provided.items() if wanted & {canonical(o) for o in owners})


# Runs first in the child: a module set to None in sys.modules fails to import with
# ModuleNotFoundError, and importlib.metadata (hence pytest's plugin loading) stops finding
# the hidden distributions.
_PRELUDE = """
import importlib.metadata as _metadata
import re as _re
import sys as _sys

for _name in {modules!r}:
    _sys.modules[_name] = None
_HIDDEN = {distributions!r}
_real_distribution = _metadata.distribution


def _distribution(name):
    if _re.sub(r"[-_.]+", "-", name).lower() in _HIDDEN:  # the same rule as canonical()
        raise _metadata.PackageNotFoundError(name)
    return _real_distribution(name)


def _distributions(**kwargs):
    for found in _real_distributions(**kwargs):
        if _re.sub(r"[-_.]+", "-", found.metadata["Name"]).lower() not in _HIDDEN:
            yield found


_real_distributions = _metadata.distributions
_metadata.distribution = _distribution
_metadata.distributions = _distributions  # pytest finds plugins (entry points) through it
"""


def run_without(
    code: str,
    modules: Iterable[str],
    distributions: Iterable[str] = (),
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `code` with `modules` unimportable and `distributions` absent from the metadata."""
    hidden = tuple(canonical(name) for name in distributions)
    prelude = _PRELUDE.format(modules=tuple(modules), distributions=hidden)
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-c", prelude + "\n" + code],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
