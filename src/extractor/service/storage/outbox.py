"""Finished results the database could not take yet, kept on disk until it can.

One JSON file per extraction, `<ns-timestamp>-<id>.json`, holding
`{"version": 1, "id", "finished_at", "queued_at", "finished": {Finished fields}}`. A file is
written under a dot-name, fsync'd, renamed into place and the directory fsync'd, so a reader
never sees half a file and a written one survives a crash. Draining applies the files oldest
first with `Store.finish` (which only touches `pending` or `lost` rows) and then deletes them;
several processes may drain one directory, since applying a file twice changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from extractor.service.storage.durability import TRANSIENT_ERRORS, Throttle, describe
from extractor.service.storage.records import Finished, as_utc, utcnow
from extractor.service.storage.store import Store

log = logging.getLogger(__name__)
VERSION = 1
_FINISHED_FIELDS = {f.name for f in fields(Finished)}


class OutboxFull(Exception):
    """The outbox already holds its maximum number of results."""


class Outbox:
    """A bounded directory of results waiting for the database."""

    def __init__(self, path: Path, max_entries: int = 10_000) -> None:
        self.path = path
        self.max_entries = max_entries
        self.written = 0
        self.drained = 0
        self._unavailable = Throttle(log)

    def entries(self) -> list[Path]:
        """The waiting files, oldest first."""
        try:
            names = sorted(e.name for e in os.scandir(self.path) if _is_entry(e.name))
        except FileNotFoundError:
            return []
        return [self.path / name for name in names]

    def __len__(self) -> int:
        return len(self.entries())

    def put(self, extraction_id: str, done: Finished, finished_at: datetime, limit: int | None = None) -> Path:
        """Keep one result durably (fsync'd); OutboxFull once `limit` (default: the bound) are waiting."""
        self.path.mkdir(parents=True, exist_ok=True)
        bound = self.max_entries if limit is None else min(limit, self.max_entries)
        if len(self) >= bound:
            raise OutboxFull(f"the outbox {self.path} holds {bound} results already")
        record = {
            "version": VERSION,
            "id": extraction_id,
            "finished_at": as_utc(finished_at).isoformat(),
            "queued_at": utcnow().isoformat(),
            "finished": asdict(done),
        }
        name = f"{time.time_ns():020d}-{extraction_id}.json"
        final = self.path / name
        temporary = self.path / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(record, ensure_ascii=False).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(final)
        _fsync_dir(self.path)
        self.written += 1
        return final

    def drain(self, store: Store) -> int:
        """Apply every waiting result to the database, oldest first; how many were applied.

        Stops at the first transient database error (the rest wait for the next drain).
        """
        applied = 0
        for path in self.entries():
            try:
                extraction_id, done, finished_at = _read(path)
            except FileNotFoundError:
                continue  # another process drained it
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("outbox: %s is unreadable (%s); moved aside as .bad", path.name, exc)
                with contextlib.suppress(OSError):
                    path.rename(path.with_name(f"{path.name}.bad"))
                continue
            try:
                stored = store.finish(extraction_id, done, finished_at)
            except TRANSIENT_ERRORS as exc:
                self._unavailable.warning(
                    f"outbox: database still unavailable, {len(self)} results wait ({describe(exc)})"
                )
                break
            if not stored:
                log.debug("outbox: extraction %s was already finished or is unknown; dropped", extraction_id)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            applied += 1
        if applied:
            self.drained += applied
            log.info("outbox: stored %d waiting results", applied)
        return applied


def _is_entry(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


def _read(path: Path) -> tuple[str, Finished, datetime]:
    record: dict[str, Any] = json.loads(path.read_bytes())
    if record.get("version") != VERSION:
        raise ValueError(f"unknown outbox version {record.get('version')!r}")
    finished = {k: v for k, v in record["finished"].items() if k in _FINISHED_FIELDS}
    return str(record["id"]), Finished(**finished), datetime.fromisoformat(record["finished_at"])


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry itself is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def drain_forever(outbox: Outbox, store: Store, interval_s: float) -> None:
    """Drain at once (results left by a previous run), then every `interval_s` seconds."""
    while True:
        try:
            await anyio.to_thread.run_sync(lambda: outbox.drain(store))
        except Exception:
            # A background loop that dies would silently stop draining; keep going.
            log.exception("outbox: drain failed")
        await anyio.sleep(interval_s)
