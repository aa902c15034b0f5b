"""Deleting old or one user's extraction rows with their images and every row that refers to them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Column, ColumnElement, Connection, Engine, Select, Table, and_, delete, exists, func, select
from sqlalchemy.exc import IntegrityError

from extractor.service.storage.db import write_transaction
from extractor.service.storage.tables import extractions, images, metadata

BATCH_SIZE = 500
MAX_CONFLICTS = 5
_DURATION = re.compile(r"(\d{1,6})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class PurgeError(ValueError):
    """A purge asked for with a bad duration or without any filter."""


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h` or `30m` as a timedelta; PurgeError for anything else or zero."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise PurgeError(f"--older-than {text!r} is not a duration like 90d, 12h or 30m")
    amount = int(match.group(1))
    if amount == 0:
        raise PurgeError(f"--older-than {text!r} must be more than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


@dataclass(frozen=True)
class Criteria:
    """Which extraction rows to purge: created before `before`, of `user_id`, or both (AND)."""

    before: datetime | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        if self.before is None and self.user_id is None:
            raise PurgeError("say what to purge: --older-than DURATION, --user ID, or both")
        if self.user_id is not None and not self.user_id:
            raise PurgeError("--user must not be empty")

    def where(self) -> ColumnElement[bool]:
        """The SQL condition on `extractions`."""
        conditions = []
        if self.before is not None:
            conditions.append(extractions.c.created_at < self.before)
        if self.user_id is not None:
            conditions.append(extractions.c.user_id == self.user_id)
        return and_(*conditions)


@dataclass
class Purged:
    """How many rows of each table were (or, in a dry run, would be) deleted."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        """Count `count` more deleted rows of `table`."""
        self.counts[table] = self.counts.get(table, 0) + count

    def __getitem__(self, table: str) -> int:
        return self.counts.get(table, 0)


def dependents() -> list[tuple[Table, Column[str]]]:
    """Every table with a foreign key to `extractions.id`, and that key's column."""
    found = []
    for table in metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column is extractions.c.id:
                found.append((table, key.parent))
    return found


def purge(engine: Engine, criteria: Criteria, *, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> Purged:
    """Delete the matching rows, their dependent rows and their no longer used images, a batch per transaction."""
    if dry_run:
        return _count(engine, criteria)
    purged = Purged()
    conflicts = 0
    while True:
        batch = Purged()
        try:
            with write_transaction(engine) as conn:
                if not _purge_batch(conn, criteria, batch_size, batch):
                    return purged
        except IntegrityError:
            # On PostgreSQL an upload of the same photo can commit a row using an image this batch
            # is deleting; the batch rolls back and, run again, sees that row and keeps the image.
            conflicts += 1
            if conflicts > MAX_CONFLICTS:
                raise
            continue
        for table, count in batch.counts.items():
            purged.add(table, count)


def _purge_batch(conn: Connection, criteria: Criteria, batch_size: int, purged: Purged) -> bool:
    """Delete one batch; False when nothing matched any more."""
    query = select(extractions.c.id, extractions.c.image_sha256).where(criteria.where())
    rows = conn.execute(query.order_by(extractions.c.created_at, extractions.c.id).limit(batch_size)).all()
    if not rows:
        return False
    ids = [r.id for r in rows]
    shas = sorted({r.image_sha256 for r in rows if r.image_sha256})
    for table, column in dependents():
        purged.add(table.name, conn.execute(delete(table).where(column.in_(ids))).rowcount)
    purged.add(extractions.name, conn.execute(delete(extractions).where(extractions.c.id.in_(ids))).rowcount)
    if shas:
        unused = ~exists().where(extractions.c.image_sha256 == images.c.sha256)
        purged.add(images.name, conn.execute(delete(images).where(images.c.sha256.in_(shas), unused)).rowcount)
    return True


def _count(engine: Engine, criteria: Criteria) -> Purged:
    """What `purge` would delete, read without writing anything."""
    purged = Purged()
    matching = select(extractions.c.id).where(criteria.where())
    with engine.connect() as conn:
        purged.add(extractions.name, _scalar(conn, select(func.count()).select_from(matching.subquery())))
        for table, column in dependents():
            counted = select(func.count()).select_from(table).where(column.in_(matching))
            purged.add(table.name, _scalar(conn, counted))
        kept = select(extractions.c.image_sha256).where(~criteria.where(), extractions.c.image_sha256.is_not(None))
        used = select(extractions.c.image_sha256).where(criteria.where())
        doomed = select(func.count()).select_from(images).where(images.c.sha256.in_(used), images.c.sha256.not_in(kept))
        purged.add(images.name, _scalar(conn, doomed))
    return purged


def _scalar(conn: Connection, query: Select[int]) -> int:
    return int(conn.execute(query).scalar_one())
