"""Throwaway virtual environments for install checks: build the wheel, make a venv, run in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from declared import ROOT, canonical

PIP = ("-m", "pip", "--disable-pip-version-check", "--no-input")


class StepFailed(Exception):
    """A command of the check failed; the message says which and shows its output."""


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; with `check`, a non-zero exit raises StepFailed."""
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        shown = " ".join(str(part) for part in command)
        raise StepFailed(f"`{shown}` exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


@contextmanager
def work_folder(kept: Path | None, prefix: str) -> Iterator[Path]:
    """`kept` (created, left in place) when given, else a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        work = kept.resolve() if kept else Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        yield work


def source_copy(dest: Path) -> Path:
    """Copy the files git tracks or would track (committed or not) to `dest`: no stale build/ leaks in."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet committed is still listed
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def build_wheel(work: Path) -> Path:
    """Build the project's wheel once (no dependencies) from a clean copy of the tree."""
    tree = source_copy(work / "source")
    out = work / "dist"
    run([sys.executable, *PIP, "wheel", "--no-deps", "-q", "-w", out, tree])
    wheels = sorted(out.glob("listingeval-*.whl"))
    if len(wheels) != 1:
        raise StepFailed(f"expected one listingeval wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def make_venv(path: Path) -> Path:
    """A new virtual environment with pip; returns its bin (or Scripts) folder."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / ("Scripts" if os.name == "nt" else "bin")


def pip_install(bin_dir: Path, *args: str | Path) -> None:
    """pip install into the venv, quietly; fails with pip's output."""
    run([bin_dir / "python", *PIP, "install", "-q", *args])


def installed_distributions(bin_dir: Path) -> set[str]:
    """The canonical names of every distribution installed in the venv."""
    code = "import importlib.metadata as m\nfor d in m.distributions():\n    print(d.metadata['Name'])\n"
    return {canonical(name) for name in run([bin_dir / "python", "-c", code]).stdout.split()}
