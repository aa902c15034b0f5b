"""Test the project at the lower bounds pyproject.toml declares (or, with --newest, at the newest releases).

Reads the lower bound of every requirement of the base and of the extras named on the command
line, writes a constraints file pinning each to `==<bound>`, installs the built wheel with those
extras and the `test` extra into a fresh venv under those constraints, and runs the tests there.
The test extra's tools are pinned at their lower bounds too: the plugin works with pytest-xdist
and pytest-html when installed, and the oldest Starlette's TestClient needs the oldest httpx.
Dev-only tools (ruff, mypy, schemathesis) are not installed.

    .venv/bin/python scripts/min_versions.py openai service mlflow
    .venv/bin/python scripts/min_versions.py openai service mlflow -- tests/unit tests/plugin tests/service
    .venv/bin/python scripts/min_versions.py --newest openai service mlflow

Arguments after `--` go to pytest (default: tests/unit tests/plugin). The test tools come from
the `test` extra, which leaves out schemathesis (it needs a newer pytest than our floor), so
tests/service/test_openapi.py cannot run here: pass --ignore=tests/service/test_openapi.py.

Exit 0 when the install resolves and the tests pass; otherwise pip's or pytest's exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from declared import ROOT, canonical, extra_names, requirements
from packaging.requirements import Requirement
from packaging.version import Version
from venvs import PIP, StepFailed, build_wheel, make_venv, run, work_folder

DEFAULT_TESTS = ("tests/unit", "tests/plugin")
LOWER_BOUND_OPERATORS = (">=", "==", "~=", "===")
TEST_EXTRA = "test"
NOT_USER_FACING = ("dev", TEST_EXTRA)


def lower_bound(requirement: Requirement) -> str | None:
    """The lowest version a requirement allows (its >=, ~= or == version), or None when unbounded."""
    for spec in requirement.specifier:
        if spec.operator in LOWER_BOUND_OPERATORS:
            return spec.version
    return None


def pins(extras: list[str]) -> dict[str, str]:
    """Distribution -> its declared lower bound, for the base, the named extras and the test tools."""
    pinned: dict[str, str] = {}
    # The test extra's own tools only: the extras it pulls in are pinned when named.
    tools = [(TEST_EXTRA, r) for r in requirements(TEST_EXTRA, unfold=False)]
    for extra, requirement in [*((e, r) for e in [None, *extras] for r in requirements(e)), *tools]:
        bound = lower_bound(requirement)
        if bound is None:
            raise StepFailed(f"{requirement} ({extra or 'base'}) declares no lower bound; give it one")
        name = canonical(requirement.name)
        if pinned.get(name, bound) != bound:
            raise StepFailed(f"{name} has two lower bounds: {pinned[name]} and {bound}")
        pinned[name] = bound
    return pinned


def _installed_versions(bin_dir: Path, wanted: set[str]) -> dict[str, str]:
    code = "import importlib.metadata as m\nfor d in m.distributions():\n    print(d.metadata['Name'], d.version)\n"
    versions = {}
    for line in run([bin_dir / "python", "-c", code]).stdout.splitlines():
        name, version = line.split()
        if canonical(name) in wanted:
            versions[canonical(name)] = version
    return versions


def install(bin_dir: Path, wheel: Path, extras: list[str], work: Path, newest: bool) -> dict[str, str]:
    """Install the wheel with the extras and the test tools; returns the versions of the declared packages."""
    target = f"{wheel}[{','.join([*extras, TEST_EXTRA])}]"
    pinned = pins(extras)
    if newest:
        run([bin_dir / "python", *PIP, "install", "-q", "--upgrade", "--upgrade-strategy", "eager", target])
        return _installed_versions(bin_dir, set(pinned))
    constraints = work / "constraints.txt"
    constraints.write_text("".join(f"{name}=={bound}\n" for name, bound in sorted(pinned.items())), encoding="utf-8")
    run([bin_dir / "python", *PIP, "install", "-q", "-c", constraints, target])
    versions = _installed_versions(bin_dir, set(pinned))
    off = {name: version for name, version in versions.items() if Version(version) != Version(pinned[name])}
    if off:
        raise StepFailed(f"installed versions differ from the lower bounds: {off}")
    return versions


def main(argv: list[str] | None = None) -> int:
    """Install at the lower (or newest) versions and run the tests; exit with their status."""
    user_extras = [name for name in extra_names() if name not in NOT_USER_FACING]
    epilog = f"arguments after -- go to pytest (default: {' '.join(DEFAULT_TESTS)})"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=epilog)
    parser.add_argument("extras", nargs="*", help=f"extras whose lower bounds to pin too ({', '.join(user_extras)})")
    parser.add_argument("--newest", action="store_true", help="install the newest releases (--upgrade) instead")
    parser.add_argument("--work", type=Path, help="keep the venv and constraints in this folder")
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    pytest_args = argv[split + 1 :] or list(DEFAULT_TESTS)
    unknown = sorted(set(args.extras) - set(user_extras))
    if unknown:
        parser.error(f"not a user-facing extra of pyproject.toml: {', '.join(unknown)}")
    mode = "newest" if args.newest else "lower bounds"
    started = time.monotonic()
    with work_folder(args.work, "listingeval-min-") as work:
        try:
            wheel = build_wheel(work)
            bin_dir = make_venv(work / "venv")
            versions = install(bin_dir, wheel, args.extras, work, args.newest)
        except StepFailed as exc:
            print(f"min_versions ({mode}): FAILED: {exc}", file=sys.stderr)
            return 1
        print(f"min_versions ({mode}), Python {sys.version.split()[0]}, base + {', '.join(args.extras) or 'no extra'}:")
        print("  " + ", ".join(f"{name}=={version}" for name, version in sorted(versions.items())))
        tested = subprocess.run([bin_dir / "python", "-m", "pytest", "-q", "-p", "no:randomly", *pytest_args], cwd=ROOT)
    print(f"min_versions ({mode}): pytest exited {tested.returncode} after {time.monotonic() - started:.0f} s")
    return tested.returncode


if __name__ == "__main__":
    raise SystemExit(main())
