"""Alembic environment: runs the migrations on the connection the service hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from extractor.service.storage.tables import metadata

_config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


_connection = _config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    with create_engine(_config.get_main_option("sqlalchemy.url") or "").connect() as _conn:
        _run(_conn)
        _conn.commit()
