"""Read run records in `reports/runs/` through a small incremental index (`index.jsonl`).

A run record is the run's results document (`RunOutcome`), read by `documents.parse_results`;
the index only caches the few facts `runs list` shows, keyed by file name, mtime and size.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_listingeval.documents import DocumentError, parse_results
from pytest_listingeval.outcome import IncompleteRun, RunOutcome

INDEX_NAME = "index.jsonl"
INDEX_VERSION = 2  # 2: records are version-1 results documents; older lines are re-read

Warn = Callable[[str], None]


class RunLookupError(Exception):
    """A run id, prefix or file names no run record; the message says what was looked for."""


class NotARunRecord(ValueError):
    """A JSON file in the runs folder that is not a run record; the message completes "which ..."."""


@dataclass(frozen=True)
class RunSummary:
    """The few facts of one run record that `runs list` shows and filters on."""

    file: str
    id: str
    time: str
    model: str
    prompt: str
    prompt_id: str
    overall: float | None
    exact_cases: float | None
    fields: dict[str, float | None] = field(default_factory=dict)
    cases: int | None = None
    errors: int | None = None
    cost_usd: float | None = None
    verdict: str | None = None
    git_sha: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the index line's `run` and the `--json` output)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSummary:
        """Rebuild from `to_json`; raises TypeError/KeyError on a foreign shape."""
        return cls(**data)


def summarize(document: RunOutcome | IncompleteRun, file: str) -> RunSummary:
    """The listed facts of a run record (a run that died lists with verdict `incomplete`)."""
    if isinstance(document, IncompleteRun):
        return RunSummary(
            file=file,
            id=document.run.id,
            time=document.run.time,
            model="",
            prompt="",
            prompt_id="",
            overall=None,
            exact_cases=None,
            verdict=document.verdict,
        )
    config, summary = document.config, document.summary
    return RunSummary(
        file=file,
        id=document.run.id,
        time=document.run.time,
        model=config.model,
        prompt=config.prompt,
        prompt_id=config.prompt_id,
        overall=summary.overall,
        exact_cases=summary.exact_cases,
        fields={name: row.accuracy for name, row in sorted(summary.fields.items())},
        cases=summary.cases,
        errors=summary.errors,
        cost_usd=summary.cost_usd,
        verdict=document.verdict,
        git_sha=config.git_sha,
    )


def read_record(path: Path) -> RunOutcome | IncompleteRun:
    """Read one run record; NotARunRecord (a one-line reason, without the path) when it is not one."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise NotARunRecord(f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise NotARunRecord("is not UTF-8 text") from exc
    try:
        return parse_results(text, path.name)
    except DocumentError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "is not a run record"
        raise NotARunRecord(reason.removeprefix(f"{path.name} ")) from exc
    except RecursionError as exc:
        raise NotARunRecord("is nested too deeply to be a run record") from exc


@dataclass
class _Entry:
    file: str
    mtime_ns: int
    size: int
    run: RunSummary | None
    skip: str | None

    def line(self) -> str:
        data: dict[str, Any] = {"v": INDEX_VERSION, "file": self.file, "mtime_ns": self.mtime_ns}
        data["size"] = self.size
        data["run" if self.run else "skip"] = self.run.to_json() if self.run else self.skip
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _parse_line(line: str) -> _Entry | None:
    try:
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("v") != INDEX_VERSION:
            return None
        run = RunSummary.from_json(data["run"]) if "run" in data else None
        skip = None if run else str(data["skip"])
        return _Entry(str(data["file"]), int(data["mtime_ns"]), int(data["size"]), run, skip)
    except (ValueError, TypeError, KeyError):
        return None


def _read_index(path: Path) -> tuple[dict[str, _Entry], int]:
    """Entries by file name (the last line for a file wins) and the number of lines read."""
    entries: dict[str, _Entry] = {}
    lines = 0
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                lines += 1
                entry = _parse_line(line)
                if entry is not None:
                    entries[entry.file] = entry
    except OSError:
        return {}, 0
    return entries, lines


def _append(path: Path, entries: Iterable[_Entry]) -> None:
    # One O_APPEND write: concurrent appenders never interleave inside a line on a local disk.
    data = "".join(e.line() for e in entries).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _rewrite(path: Path, entries: Iterable[_Entry]) -> None:
    # Write aside and rename: a reader sees the old index or the new one, never half of one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        tmp.write_text("".join(e.line() for e in entries), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def scan_runs(runs_dir: Path, warn: Warn) -> list[RunSummary]:
    """Every run record in runs_dir, newest first; re-reads only files whose mtime or size changed."""
    index_path = runs_dir / INDEX_NAME
    cached, lines = _read_index(index_path)
    live: dict[str, _Entry] = {}
    fresh: list[_Entry] = []
    try:
        listing = list(os.scandir(runs_dir))
    except FileNotFoundError:
        return []
    for item in listing:
        if not item.name.endswith(".json") or item.name.startswith("."):
            continue
        try:
            if not item.is_file():
                continue
            stat = item.stat()
        except OSError:
            continue
        entry = cached.get(item.name)
        if entry is None or (entry.mtime_ns, entry.size) != (stat.st_mtime_ns, stat.st_size):
            entry = _load_entry(Path(item.path), item.name, stat.st_mtime_ns, stat.st_size)
            fresh.append(entry)
        live[item.name] = entry
    _save_index(index_path, cached, live, fresh, lines)
    for entry in sorted(live.values(), key=lambda e: e.file):
        if entry.skip is not None:
            warn(f"skipping {runs_dir / entry.file}, which {entry.skip}")
    runs = [e.run for e in live.values() if e.run is not None]
    return sorted(runs, key=lambda r: (r.time, r.id), reverse=True)


def index_record(path: Path, record: RunOutcome | Mapping[str, Any]) -> None:
    """Add a just-written run record to its folder's index, so listing never has to parse it."""
    try:
        outcome = record if isinstance(record, RunOutcome) else RunOutcome.model_validate(record)
        stat = path.stat()
        entry = _Entry(path.name, stat.st_mtime_ns, stat.st_size, summarize(outcome, path.name), None)
        _append(path.parent / INDEX_NAME, [entry])
    except (OSError, ValidationError):
        pass  # the index is only a cache: the next listing reads the record itself


def _load_entry(path: Path, name: str, mtime_ns: int, size: int) -> _Entry:
    try:
        return _Entry(name, mtime_ns, size, summarize(read_record(path), name), None)
    except NotARunRecord as exc:
        return _Entry(name, mtime_ns, size, None, str(exc))


def _save_index(
    path: Path, cached: dict[str, _Entry], live: dict[str, _Entry], fresh: list[_Entry], lines: int
) -> None:
    """Append new entries, or compact when lines are stale, corrupt or duplicated; best effort."""
    needs_compaction = lines > len(cached) or bool(cached.keys() - live.keys())
    try:
        if needs_compaction or (fresh and lines + len(fresh) > 2 * max(len(live), 1)):
            _rewrite(path, sorted(live.values(), key=lambda e: e.file))
        elif fresh:
            _append(path, fresh)
    except OSError:
        pass  # a read-only runs folder still lists; the index is only a cache


def filter_runs(runs: Iterable[RunSummary], model: str | None = None, prompt: str | None = None) -> list[RunSummary]:
    """Runs whose model / prompt (name or prompt id) match the given glob patterns."""
    kept = []
    for run in runs:
        if model and not fnmatchcase(run.model, model):
            continue
        if prompt and not (fnmatchcase(run.prompt, prompt) or fnmatchcase(run.prompt_id, prompt)):
            continue
        kept.append(run)
    return kept


def find_run(runs_dir: Path, spec: str) -> Path | None:
    """The record whose id is spec or starts with it; None when nothing matches, error if ambiguous."""
    exact = runs_dir / f"{spec}.json"
    if exact.is_file():
        return exact
    if not spec or "/" in spec or not runs_dir.is_dir():
        return None
    matches = sorted(p for p in runs_dir.glob("*.json") if p.stem.startswith(spec) and not p.name.startswith("."))
    if len(matches) > 1:
        shown = ", ".join(p.stem for p in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise RunLookupError(f"run id prefix {spec!r} is ambiguous in {runs_dir}: {shown}")
    return matches[0] if matches else None
