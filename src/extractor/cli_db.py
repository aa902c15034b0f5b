"""Opening the service database for a command: refusals a person can act on, in one line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine


class DatabaseRefused(Exception):
    """The database cannot serve the command; the message says why and what to do."""


def open_database(db: str | None, tables: Sequence[str]) -> Engine:
    """An engine on the service database holding `tables`; refuses a missing SQLite file or an unmigrated database."""
    from sqlalchemy import inspect, make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from extractor.service.config import load_config
    from extractor.service.storage.db import make_engine

    url = load_config(db).db_url
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseRefused(f"bad database URL {url!r}: {exc}") from exc
    shown = parsed.render_as_string(hide_password=True)
    on_disk = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    # Opening a missing SQLite file would create an empty database there.
    if on_disk and not Path(parsed.database or "").is_file():
        raise DatabaseRefused(f"no database at {parsed.database} (pass --db URL of the service's database)")
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            missing = [t for t in tables if not inspect(conn).has_table(t)]
    except (SQLAlchemyError, ImportError) as exc:
        raise DatabaseRefused(f"cannot open the database {shown}: {' '.join(str(exc).split())[:300]}") from exc
    if missing:
        engine.dispose()
        raise DatabaseRefused(
            f"the database {shown} has no {', '.join(missing)} table; run: listingeval db upgrade --db URL"
        )
    return engine
