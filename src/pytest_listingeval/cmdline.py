"""Option values that pytest took for test paths when it chose its rootdir and config file.

pytest picks the rootdir and the config file from the free arguments of the command line
and PYTEST_ADDOPTS before it loads entry-point plugins, so before it knows that
`--baseline` or `--eval-json` take a value. In `pytest -m eval --baseline /x/b.json` the
value is a free argument at that point and, since it exists, pytest looks for a config
file from `/x` upwards: the project's own config is never loaded. The command line itself
is parsed right once the plugin is loaded, but by then pytest has also applied the chosen
file's pythonpath, addopts and confcutdir. Ini-file addopts play no part in the choice
(pytest adds them after it), so only the command line and PYTEST_ADDOPTS are looked at.

pytest has no public way to make that choice again, and patching its outcome in place
would leave everything derived from it behind. So the plugin runs the same command again,
once, with each such value joined to its option (`--baseline=/x/b.json`, which pytest
never takes for a path), when this process is the pytest command line itself. When pytest
was started from code (`pytest.main()`, pytester) there is no command line to run again,
and a usage error says what to write instead. Both happen only when the choice really
differs without those values (a relative path inside the project usually changes
nothing); `pytest_choice` works that out with pytest's own rootdir and config-file logic,
the one place that relies on pytest internals. All this runs from a
`pytest_load_initial_conftests` wrapper, the first hook that has every plugin's options,
before pytest starts capturing output (the new process must write to the real terminal)
and before any conftest is imported.
"""

from __future__ import annotations

import inspect
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pytest

# Every option of the plugin that takes a value (a test keeps this in step with plugin.py).
VALUE_OPTIONS = frozenset(
    {
        "--baseline",
        "--eval-model",
        "--eval-prompt",
        "--eval-tolerance",
        "--eval-gate",
        "--eval-alpha",
        "--eval-json",
        "--eval-report",
        "--eval-markdown",
        "--eval-report-url",
        "--eval-repeat",
        "--eval-judge-model",
        "--eval-concurrency",
        "--eval-min-shared",
    }
)
# Set in the restarted process, so that it never restarts again.
RESTARTED_ENV = "LISTINGEVAL_RESTARTED"


def _exists(here: Path, value: str) -> bool:
    # The test pytest applies to a free argument: the part before any "::" exists.
    try:
        return (here / value.partition("::")[0]).exists()
    except (OSError, ValueError):
        return False


def misread_pairs(tokens: Sequence[str], here: Path) -> list[int]:
    """Where a value option of ours is followed by a separate value that exists on disk."""
    starts: list[int] = []
    index = 0
    while index < len(tokens) - 1:
        token = tokens[index]
        if token == "--":
            break
        if token in VALUE_OPTIONS:
            value = tokens[index + 1]
            if not value.startswith("-") and _exists(here, value):
                starts.append(index)
            index += 2
        else:
            index += 1
    return starts


def join_pairs(tokens: Sequence[str], starts: Sequence[int]) -> list[str]:
    """`tokens` with each option at `starts` and its value written as one `--option=value` word."""
    joined: list[str] = []
    index = 0
    while index < len(tokens):
        if index in starts:
            joined.append(f"{tokens[index]}={tokens[index + 1]}")
            index += 2
        else:
            joined.append(tokens[index])
            index += 1
    return joined


def pytest_choice(parser: pytest.Parser, tokens: Sequence[str], here: Path) -> tuple[Path, Path | None] | None:
    """The rootdir and config file pytest picks for `tokens` parsed with every option known; None if unknown."""
    try:
        from _pytest.config import findpaths

        namespace = parser.parse_known_args(list(tokens))
        arguments = {
            "inifile": namespace.inifilename,
            "args": namespace.file_or_dir,
            "rootdir_cmd_arg": namespace.rootdir or None,
            "invocation_dir": here,
            "override_ini": namespace.override_ini,
        }
        # Older pytest versions take no override_ini; it does not affect the paths anyway.
        accepted = inspect.signature(findpaths.determine_setup).parameters
        chosen = findpaths.determine_setup(**{key: value for key, value in arguments.items() if key in accepted})
    except (Exception, pytest.fail.Exception):
        # A changed internal API, or a config file pytest will reject itself: assume the worst.
        return None
    return chosen[0], chosen[1]


def _described(tokens: Sequence[str], starts: Sequence[int]) -> tuple[str, str]:
    written = ", ".join(shlex.join(tokens[index : index + 2]) for index in starts)
    joined = shlex.join(f"{tokens[index]}={tokens[index + 1]}" for index in starts)
    return written, joined


def _problem(
    command: Sequence[str], in_command: list[int], addopts: Sequence[str], in_addopts: list[int]
) -> tuple[str, str]:
    written, fixes = [], []
    for tokens, starts, where in ((command, in_command, ""), (addopts, in_addopts, " in PYTEST_ADDOPTS")):
        if starts:
            shown, joined = _described(tokens, starts)
            written.append(shown)
            fixes.append(joined + where)
    count = len(in_command) + len(in_addopts)
    what, them = ("a test path", "it") if count == 1 else ("test paths", "them")
    problem = f"pytest took {', '.join(written)} for {what} and chose its rootdir and config file from {them}"
    return problem, " and ".join(fixes)


def _can_restart(command: Sequence[str]) -> bool:
    # Only the pytest command line itself can be run again; on Windows exec starts a new process
    # and the shell sees this one end at once, so say what to write there too.
    start = len(sys.orig_argv) - len(command)
    is_command_line = start > 0 and sys.argv[1:] == command and sys.orig_argv[start:] == command
    return is_command_line and bool(sys.executable) and os.name != "nt"


def _restart(command: Sequence[str], fixed: list[str], addopts: list[str] | None, note: str) -> NoReturn:
    # The interpreter's own options and `-m pytest` or the script path stay as they were.
    start = len(sys.orig_argv) - len(command)
    argv = [sys.executable, *sys.orig_argv[1:start], *fixed]
    env = {**os.environ, RESTARTED_ENV: "1"}
    if addopts is not None:
        env["PYTEST_ADDOPTS"] = shlex.join(addopts)
    sys.stdout.flush()
    sys.stderr.write(f"listingeval: {note}\n")
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def rechoose_rootdir(config: pytest.Config, parser: pytest.Parser, args: Sequence[str]) -> None:
    """Restart pytest, or say what to write, when it chose its rootdir from a value of one of our options."""
    restarted = os.environ.pop(RESTARTED_ENV, None) is not None
    here = config.invocation_params.dir
    command = [str(arg) for arg in config.invocation_params.args]
    addopts = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    if list(args[: len(addopts)]) != addopts:
        addopts = []  # this parse did without them (Config.fromdictargs)
    in_command, in_addopts = misread_pairs(command, here), misread_pairs(addopts, here)
    if not in_command and not in_addopts:
        return
    fixed_command, fixed_addopts = join_pairs(command, in_command), join_pairs(addopts, in_addopts)
    if pytest_choice(parser, [*fixed_addopts, *fixed_command], here) == (config.rootpath, config.inipath):
        return
    problem, fixes = _problem(command, in_command, addopts, in_addopts)
    if restarted or not _can_restart(command):
        raise pytest.UsageError(f"{problem}; write {fixes}")
    _restart(command, fixed_command, fixed_addopts if in_addopts else None, f"{problem}; restarting with {fixes}")
