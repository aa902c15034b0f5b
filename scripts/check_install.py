"""Prove, in fresh virtual environments, what each install of listingeval pulls in and what then works.

The harness alone (`pip install listingeval`):
  - installs every base dependency and no distribution that only an extra names (openai, pillow,
    tenacity, httpx2, fastapi, uvicorn, sqlalchemy, pytest-xdist, pytest-html, ...);
  - `pytest --help` lists the plugin's options, and `listingeval runs --help` works;
  - `listingeval extract x.png`, `listingeval serve`, `listingeval db upgrade` and
    `listingeval cases promote` print one line naming the extra to install and exit non-zero.
The service (`pip install 'listingeval[service]'`) with pytest uninstalled:
  - `listingeval serve --help` works, and `listingeval serve` on a SQLite file answers /healthz.

Usage (with the dev environment's Python, which has `packaging`):
    .venv/bin/python scripts/check_install.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from declared import names, optional_names
from venvs import StepFailed, build_wheel, installed_distributions, make_venv, pip_install, run, work_folder

# Named in the task that introduced this check; all of them are in optional_names() too.
NEVER_WITH_THE_HARNESS = ("openai", "pillow", "tenacity", "httpx2", "fastapi", "uvicorn", "sqlalchemy")
PLUGIN_OPTIONS = ("listingeval evaluation", "--baseline", "--update-baseline", "--eval-report", "--eval-json")
NEEDS_AN_EXTRA = {
    ("extract", "x.png"): "openai",
    ("serve",): "service",
    ("db", "upgrade"): "service",
    ("cases", "promote", "0123abcd"): "service",
}
SERVE_TIMEOUT_S = 90.0


def check_harness(wheel: Path, work: Path) -> None:
    """The harness alone: what it installs, the plugin's options, and the one-line hints."""
    bin_dir = make_venv(work / "harness")
    pip_install(bin_dir, wheel)
    installed = installed_distributions(bin_dir)
    missing = sorted(set(names(None)) - installed)
    if missing:
        raise StepFailed(f"the harness install lacks base dependencies: {', '.join(missing)}")
    extra_only = sorted(installed & (set(optional_names()) | set(NEVER_WITH_THE_HARNESS)))
    if extra_only:
        raise StepFailed(f"the harness alone installed what only an extra should: {', '.join(extra_only)}")
    print(f"ok: `pip install listingeval` installs the base and none of {len(optional_names())} extra-only packages")

    empty = work / "empty-project"
    empty.mkdir()
    help_text = run([bin_dir / "pytest", "--help"], cwd=empty).stdout
    absent = [option for option in PLUGIN_OPTIONS if option not in help_text]
    if absent:
        raise StepFailed(f"`pytest --help` does not show the plugin's {', '.join(absent)}")
    print("ok: `pytest --help` shows the listingeval options")
    run([bin_dir / "listingeval", "runs", "--help"], cwd=empty)
    print("ok: `listingeval runs --help` works")
    for args, extra in NEEDS_AN_EXTRA.items():
        _expect_install_hint(bin_dir, args, extra, empty)
        print(f"ok: `listingeval {' '.join(args)}` says in one line: pip install 'listingeval[{extra}]'")


def _expect_install_hint(bin_dir: Path, args: tuple[str, ...], extra: str, cwd: Path) -> None:
    done = run([bin_dir / "listingeval", *args], cwd=cwd, check=False)
    lines = done.stderr.splitlines()
    hint = f"pip install 'listingeval[{extra}]'"
    if done.returncode == 0 or done.stdout or len(lines) != 1 or hint not in lines[0]:
        raise StepFailed(
            f"`listingeval {' '.join(args)}` should exit non-zero with one line naming {hint}; "
            f"it exited {done.returncode} with stdout {done.stdout!r} and stderr {done.stderr!r}"
        )


def check_service_without_pytest(wheel: Path, work: Path) -> None:
    """The service extra with pytest uninstalled: the CLI loads and the app answers /healthz."""
    bin_dir = make_venv(work / "service")
    pip_install(bin_dir, f"{wheel}[service]")
    run([bin_dir / "python", "-m", "pip", "uninstall", "-y", "-q", "pytest"])
    if run([bin_dir / "python", "-c", "import pytest"], check=False).returncode == 0:
        raise StepFailed("pytest is still importable after `pip uninstall pytest`")
    print("ok: `pip install 'listingeval[service]'`, then pytest uninstalled")
    run([bin_dir / "listingeval", "serve", "--help"], cwd=work)
    print("ok: `listingeval serve --help` works without pytest")
    answer = _healthz_of_a_served_app(bin_dir, work)
    print(f"ok: `listingeval serve` without pytest answers /healthz: {answer}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthz_of_a_served_app(bin_dir: Path, work: Path) -> str:
    port = _free_port()
    log_path = work / "serve.log"
    command = [
        str(bin_dir / "listingeval"),
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{work / 'service.db'}",
        "--log-format",
        "text",
        "--wait-for-db",
        "0",
    ]
    # /healthz asks only the database: the model server is never called, so a closed port will do.
    env = {**os.environ, "OPENAI_API_KEY": "sk-install-check", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            return _poll_healthz(server, port, log_path)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _poll_healthz(server: subprocess.Popen[bytes], port: int, log_path: Path) -> str:
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    url = f"http://127.0.0.1:{port}/healthz"
    while True:
        if server.poll() is not None:
            raise StepFailed(f"`listingeval serve` exited {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                body = json.load(reply)
        except urllib.error.HTTPError as exc:
            raise StepFailed(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise StepFailed(f"no answer from {url} in {SERVE_TIMEOUT_S:g} s") from None
            time.sleep(0.3)
            continue
        if body != {"status": "ok"}:
            raise StepFailed(f"{url} answered {body!r}, not {{'status': 'ok'}}")
        return json.dumps(body)


def main(argv: list[str] | None = None) -> int:
    """Run every check; exit 1 naming the first that failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the venvs and logs in this folder (default: a temp folder)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with work_folder(args.work, "listingeval-install-") as work:
        try:
            wheel = build_wheel(work)
            print(f"ok: built {wheel.name}")
            check_harness(wheel, work)
            check_service_without_pytest(wheel, work)
        except StepFailed as exc:
            print(f"check_install: FAILED: {exc}", file=sys.stderr)
            return 1
    print(f"check_install: every check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
