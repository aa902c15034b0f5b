"""Signed-out admin sessions, shared by every replica through the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select

from extractor.service.storage.db import insert_ignore, write_transaction
from extractor.service.storage.records import utcnow
from extractor.service.storage.tables import revoked_sessions


class Revocations:
    """Session ids signed out before their cookie expired; an entry is dropped once the cookie expired too."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def revoke(self, sid: str, expires_at: int) -> None:
        """Refuse session `sid` from now on (idempotent); forget sessions whose cookies have expired."""
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(delete(revoked_sessions).where(revoked_sessions.c.expires_at <= now))
            insert_ignore(
                conn, revoked_sessions, {"sid": sid, "expires_at": datetime.fromtimestamp(expires_at, tz=UTC)}
            )

    def is_revoked(self, sid: str) -> bool:
        """Whether session `sid` was signed out."""
        with self.engine.connect() as conn:
            found = conn.execute(select(revoked_sessions.c.sid).where(revoked_sessions.c.sid == sid)).first()
        return found is not None
