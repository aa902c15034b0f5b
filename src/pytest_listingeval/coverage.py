"""Which cases exist, which ones pytest selected, and what of the baseline a run covered.

"Partial" is decided from what pytest actually selected against the case files on disk,
never from parsing -k, -m, --deselect or paths: whatever narrowed the run, a case that
exists and was not selected is not covered.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable
from pathlib import Path

from pytest_listingeval.cases import case_id
from pytest_listingeval.outcome import Coverage

CASE_SUFFIXES = (".yaml", ".yml")


def _skipped_dir(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def case_files(cases_root: Path, norecursedirs: Collection[str] = ()) -> list[Path]:
    """Every case file pytest would collect under the cases folder (pytest's norecursedirs skipped)."""
    if not cases_root.is_dir():
        return []
    found: list[Path] = []
    pending = [cases_root]
    while pending:
        folder = pending.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                if not _skipped_dir(entry.name, norecursedirs):
                    pending.append(entry)
            elif entry.suffix in CASE_SUFFIXES and entry.is_file():
                found.append(entry)
    return sorted(found)


def case_set(cases_root: Path, norecursedirs: Collection[str] = ()) -> set[str]:
    """The ids of every case in the case set."""
    return {case_id(path, cases_root) for path in case_files(cases_root, norecursedirs)}


def measure(universe: Collection[str], selected: Collection[str], baseline: Collection[str] | None) -> Coverage:
    """Compare what exists, what ran and what the baseline holds."""
    chosen = set(selected)
    not_selected = sorted(set(universe) - chosen)
    known = set(baseline or ())
    return Coverage(
        case_set=len(universe),
        selected=len(chosen),
        not_selected=tuple(not_selected),
        removed=tuple(sorted(known - set(universe) - chosen)),
        not_run=tuple(sorted(known & set(not_selected))),
    )
