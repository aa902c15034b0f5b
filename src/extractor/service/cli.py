"""`listingeval serve`, `listingeval db upgrade` and `listingeval db purge`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from datetime import datetime

from extractor.service.config import ADMIN_TOKEN_ENV, DEFAULT_DB_URL

MIN_TOKEN_CHARS = 16
DEFAULT_DB_WAIT_S = 60.0
MAX_DB_RETRY_DELAY_S = 10.0
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _upgrade(db_url: str | None) -> str:
    from extractor.service.config import load_config
    from extractor.service.storage.db import make_engine, upgrade

    url = load_config(db_url).db_url
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def _upgrade_when_reachable(db_url: str, wait_s: float, log: logging.Logger) -> None:
    """Migrate, retrying with backoff for up to `wait_s` while the database cannot be reached.

    A replica that starts during an outage (or with its database) comes up when the database
    does, instead of needing a supervisor to restart it; results a killed replica left in the
    outbox are then drained. Other errors (a bad migration, a wrong URL) fail at once.
    """
    from extractor.service.storage.db import UNAVAILABLE_ERRORS

    deadline = time.monotonic() + wait_s
    delay = 0.5
    while True:
        try:
            _upgrade(db_url)
            return
        except UNAVAILABLE_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "the database %s cannot be reached yet (%s); retrying in %g s",
                _safe(db_url),
                _first_line(exc),
                delay,
            )
        time.sleep(delay)
        delay = min(delay * 2, MAX_DB_RETRY_DELAY_S)


def cmd_serve(args: argparse.Namespace) -> int:
    """Apply migrations and run the service under uvicorn, logging one line per request."""
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from extractor.service.api import logs
    from extractor.service.app import create_app
    from extractor.service.config import load_config

    if not os.environ.get("OPENAI_API_KEY"):
        print(
            "listingeval: OPENAI_API_KEY is not set (set it, and OPENAI_BASE_URL for a compatible server)",
            file=sys.stderr,
        )
        return 2
    config = load_config(args.db)
    if args.allow_plain_http:
        config = dataclasses.replace(config, allow_plain_http=True)
    secrets = (config.admin_token or "", config.session_secret or "", os.environ.get("OPENAI_API_KEY", ""))
    logs.configure(args.log_format, args.log_level, secrets)
    log = logs.logger
    try:
        _upgrade_when_reachable(config.db_url, args.wait_for_db, log)
    except SQLAlchemyError as exc:
        log.error("cannot start: the database %s could not be migrated: %s", _safe(config.db_url), _first_line(exc))
        return 1
    if not config.admin_token:
        log.warning("%s is not set: /metrics, /dashboard and /review answer 503", ADMIN_TOKEN_ENV)
    elif len(config.admin_token) < MIN_TOKEN_CHARS:
        log.warning(
            "%s is shorter than %d characters: anyone who guesses it is admin", ADMIN_TOKEN_ENV, MIN_TOKEN_CHARS
        )
    if config.allow_plain_http:
        log.warning("session cookies are sent over plain http: use this only where nobody else can listen")
    names = ", ".join(f"{v.name} ({v.model}, {v.prompt}, weight {v.weight:g})" for v in config.variants)
    log.info("variants %s; database %s", names, _safe(config.db_url))
    # log_config=None keeps the handler set up above; our middleware writes the one access line per request.
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=logs.level_number(args.log_level),
        log_config=None,
        access_log=False,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending migrations and exit."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        url = _upgrade(args.db)
    except SQLAlchemyError as exc:
        print(f"listingeval: the database could not be migrated: {_first_line(exc)}", file=sys.stderr)
        return 1
    print(f"listingeval: database {_safe(url)} is at the latest schema")
    return 0


def cmd_db_purge(args: argparse.Namespace) -> int:
    """Delete old or one user's extractions with their images and dependent rows (or count them)."""
    from pathlib import Path

    from sqlalchemy import inspect, make_url
    from sqlalchemy.exc import SQLAlchemyError

    from extractor.service.config import load_config
    from extractor.service.storage.db import make_engine
    from extractor.service.storage.purge import Criteria, PurgeError, dependents, parse_duration, purge
    from extractor.service.storage.records import utcnow

    try:
        before = utcnow() - parse_duration(args.older_than) if args.older_than is not None else None
        criteria = Criteria(before=before, user_id=args.user)
    except PurgeError as exc:
        print(f"listingeval: {exc}", file=sys.stderr)
        return 2
    url = load_config(args.db).db_url
    parsed = make_url(url)
    on_disk = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if on_disk and not Path(str(parsed.database)).is_file():  # connecting would create an empty file
        print(f"listingeval: no database file at {parsed.database}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("extractions"):
            print(f"listingeval: {_safe(url)} has no extractions table (run `listingeval db upgrade`)", file=sys.stderr)
            return 2
        purged = purge(engine, criteria, dry_run=args.dry_run)
    except SQLAlchemyError as exc:
        first_line = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(f"listingeval: purge failed on {_safe(url)}: {first_line}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    tables = ["extractions", "images", *(table.name for table, _ in dependents())]
    counts = ", ".join(f"{purged[name]} {name}" for name in tables)
    print(f"listingeval: {verb} {counts} (rows {_described(criteria.before, args.user)})")
    return 0


def _described(before: datetime | None, user: str | None) -> str:
    parts = []
    if before is not None:
        parts.append(f"created before {before.isoformat(timespec='seconds')}")
    if user is not None:
        parts.append(f"of user {user!r}")
    return " and ".join(parts)


def _first_line(exc: BaseException) -> str:
    """A database error in one line (SQLAlchemy's text spans several, and a traceback many more)."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0] if lines else ''}"


def _seconds(value: str) -> float:
    """A duration in seconds for argparse: a number >= 0."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {value!r}")
    return seconds


def _safe(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `serve` and `db` (upgrade, purge) subcommands."""
    serve = sub.add_parser("serve", help="run the extraction service (HTTP API, dashboard, metrics)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--db", help=f"SQLAlchemy database URL (default {DEFAULT_DB_URL})")
    serve.add_argument("--log-level", default="info", choices=LOG_LEVELS, help="log level (default info)")
    serve.add_argument(
        "--log-format",
        default="json",
        choices=("json", "text"),
        help="one JSON object per line, or readable text (default json)",
    )
    serve.add_argument(
        "--wait-for-db",
        type=_seconds,
        default=DEFAULT_DB_WAIT_S,
        metavar="SECONDS",
        help=f"retry an unreachable database at start-up this long (default {DEFAULT_DB_WAIT_S:g}; 0: fail at once)",
    )
    serve.add_argument(
        "--allow-plain-http",
        action="store_true",
        help="send the session cookie without Secure, for http on a machine only you reach",
    )
    serve.set_defaults(func=cmd_serve, extra="service")
    db = sub.add_parser("db", help="service database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply pending schema migrations")
    up.add_argument("--db", help=f"SQLAlchemy database URL (default {DEFAULT_DB_URL})")
    up.set_defaults(func=cmd_db_upgrade, extra="service")
    purge = db_sub.add_parser("purge", help="delete old or one user's extractions, their photos and related rows")
    purge.add_argument("--older-than", metavar="DURATION", help="rows created more than this ago: 90d, 12h, 30m")
    purge.add_argument("--user", metavar="ID", help="rows of this user (the X-User-Id); with --older-than, both")
    purge.add_argument("--db", help=f"SQLAlchemy database URL (default {DEFAULT_DB_URL})")
    purge.add_argument("--dry-run", action="store_true", help="print what would be deleted and delete nothing")
    purge.set_defaults(func=cmd_db_purge, extra="service")
