"""Reads and writes of extraction rows, images, feedback and final listings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, func, insert, or_, select, text, update

from extractor.service.storage.db import insert_ignore, write_transaction
from extractor.service.storage.records import Finished, LogFilter, Pending, Rating, Row, utcnow
from extractor.service.storage.tables import corrections, extractions, images, online_results


class Store:
    """The service's database access; every method is one short transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def ping(self) -> None:
        """Raise when the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def start(self, pending: Pending) -> None:
        """Store the image (once per sha256) and a `pending` row before the model is called.

        Idempotent: a retry after a commit whose answer was lost finds the row and adds nothing.
        """
        with write_transaction(self.engine) as conn:
            _insert_pending(conn, pending)

    def start_with(self, prepare: Callable[[Connection], Pending]) -> Pending:
        """`start` for the pending row `prepare` builds in the same transaction (it may read first).

        The runner reads the routing this way: one connection and one transaction per request
        instead of two.
        """
        with write_transaction(self.engine) as conn:
            pending = prepare(conn)
            _insert_pending(conn, pending)
        return pending

    def finish(self, extraction_id: str, done: Finished, finished_at: datetime | None = None) -> bool:
        """Record how the extraction ended; False when no `pending` or `lost` row had that id.

        A `lost` row is overwritten: the reaper gave up on it, but the real result came late
        (from the outbox). A finished row is left alone, so a replayed write changes nothing.
        """
        values: dict[str, Any] = {
            "status": done.status,
            "output": done.output,
            "error_type": done.error_type,
            "error_message": done.error_message,
            "response_id": done.response_id,
            "latency_ms": done.latency_ms,
            "input_tokens": done.input_tokens,
            "output_tokens": done.output_tokens,
            "finished_at": finished_at or utcnow(),
            # A late result replacing `lost` gives the row an output to score: online scoring starts afresh
            # (a `lost` row had no output, so it has no online results to duplicate).
            "online_scored_at": None,
            "online_claimed_at": None,
        }
        if done.model:
            values["model"] = done.model
        if done.prompt_id:
            values["prompt_id"] = done.prompt_id
        with write_transaction(self.engine) as conn:
            updated = conn.execute(
                update(extractions).where(extractions.c.id == extraction_id, _UNFINISHED).values(values)
            ).rowcount
        return bool(updated)

    def reap(self, cutoff: datetime, message: str) -> int:
        """Mark rows still `pending` that were created before `cutoff` as `lost`; how many.

        One conditional UPDATE: replicas reaping at the same moment cannot both take a row, and
        running it twice changes nothing.
        """
        with write_transaction(self.engine) as conn:
            reaped = conn.execute(
                update(extractions)
                .where(extractions.c.status == "pending", extractions.c.created_at < cutoff)
                .values(status="lost", error_type="lost", error_message=message, finished_at=utcnow())
            ).rowcount
        return int(reaped)

    def rate(self, extraction_id: str, rating: Rating, comment: str | None) -> str | None:
        """Store a thumb (the latest one wins); the row's variant, or None for an unknown id."""
        with write_transaction(self.engine) as conn:
            variant = conn.execute(
                update(extractions)
                .where(extractions.c.id == extraction_id)
                .values(rating=rating, comment=comment, rated_at=utcnow())
                .returning(extractions.c.variant)
            ).scalar_one_or_none()
        return variant

    def output_of(self, extraction_id: str) -> tuple[str, dict[str, Any] | None] | None:
        """The variant and model output of a row, or None for an unknown id."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(extractions.c.variant, extractions.c.output).where(extractions.c.id == extraction_id)
            ).one_or_none()
        return None if found is None else (found.variant, found.output)

    def finalize(self, extraction_id: str, variant: str, final: dict[str, Any], corrected: list[str]) -> None:
        """Store the published listing and replace the row's per-field corrections."""
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(extractions)
                .where(extractions.c.id == extraction_id)
                .values(final_listing=final, corrected_fields=corrected, finalized_at=now)
            )
            conn.execute(delete(corrections).where(corrections.c.extraction_id == extraction_id))
            if corrected:
                conn.execute(
                    insert(corrections),
                    [
                        {
                            "extraction_id": extraction_id,
                            "field": f,
                            "variant": variant,
                            "created_at": now,
                        }
                        for f in corrected
                    ],
                )

    def get(self, extraction_id: str) -> Row | None:
        """One extraction row, or None."""
        with self.engine.connect() as conn:
            found = conn.execute(select(*_ROW_COLUMNS).where(extractions.c.id == extraction_id)).one_or_none()
        return None if found is None else Row(**found._asdict())

    def image(self, sha256: str) -> tuple[bytes, str] | None:
        """The stored image bytes and content type, or None."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(images.c.data, images.c.content_type).where(images.c.sha256 == sha256)
            ).one_or_none()
        return None if found is None else (bytes(found.data), str(found.content_type))

    def page(self, where: LogFilter, offset: int, limit: int) -> tuple[list[Row], int]:
        """Rows matching the filter, newest first, and how many match in all."""
        conditions = []
        if where.status:
            conditions.append(extractions.c.status == where.status)
        if where.variant:
            conditions.append(extractions.c.variant == where.variant)
        if where.rating == "none":
            conditions.append(extractions.c.rating.is_(None))
        elif where.rating:
            conditions.append(extractions.c.rating == where.rating)
        if where.online_failed:
            conditions.append(
                exists().where(
                    online_results.c.extraction_id == extractions.c.id,
                    online_results.c.check == where.online_failed,
                    online_results.c.result == "fail",
                )
            )
        query = select(*_ROW_COLUMNS).where(*conditions)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(extractions).where(*conditions)).scalar_one()
            rows = conn.execute(
                query.order_by(extractions.c.created_at.desc(), extractions.c.id).offset(offset).limit(limit)
            ).all()
        return [Row(**r._asdict()) for r in rows], int(total)

    def count(self) -> int:
        """How many extraction rows are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(extractions)).scalar_one())


# Two plain comparisons rather than `IN (...)`: an IN list is an "expanding" parameter, which
# SQLAlchemy re-renders into the cached statement on every execution (about 80 us a finish).
_UNFINISHED = or_(extractions.c.status == "pending", extractions.c.status == "lost")

_ROW_COLUMNS = (
    extractions.c.id,
    extractions.c.created_at,
    extractions.c.user_id,
    extractions.c.variant,
    extractions.c.model,
    extractions.c.prompt_id,
    extractions.c.status,
    extractions.c.error_type,
    extractions.c.error_message,
    extractions.c.output,
    extractions.c.latency_ms,
    extractions.c.input_tokens,
    extractions.c.output_tokens,
    extractions.c.image_sha256,
    extractions.c.rating,
    extractions.c.comment,
    extractions.c.final_listing,
    extractions.c.corrected_fields,
)


def _insert_pending(conn: Connection, pending: Pending) -> None:
    upload = pending.upload
    insert_ignore(
        conn,
        images,
        {
            "sha256": upload.sha256,
            "data": upload.data,
            "size": len(upload.data),
            "content_type": upload.content_type,
            "created_at": pending.created_at,
            "width": upload.width,
            "height": upload.height,
        },
    )
    insert_ignore(
        conn,
        extractions,
        {
            "id": pending.id,
            "created_at": pending.created_at,
            "user_id": pending.user_id,
            "variant": pending.variant,
            "model": pending.model,
            "prompt_id": pending.prompt_id,
            "status": "pending",
            "image_sha256": upload.sha256,
            "rollout_id": pending.rollout_id,
        },
    )
