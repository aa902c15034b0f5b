"""`listingeval serve` and `listingeval db upgrade`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from extractor.service.config import ADMIN_TOKEN_ENV, DEFAULT_DB_URL

MIN_TOKEN_CHARS = 16
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _upgrade(db_url: str | None) -> str:
    from extractor.service.config import load_config
    from extractor.service.db import make_engine, upgrade

    url = load_config(db_url).db_url
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    """Apply migrations and run the service under uvicorn, logging one line per request."""
    import uvicorn

    from extractor.service import logs
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
    _upgrade(config.db_url)
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
    url = _upgrade(args.db)
    print(f"listingeval: database {_safe(url)} is at the latest schema")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `serve` and `db` subcommands."""
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
        "--allow-plain-http",
        action="store_true",
        help="send the session cookie without Secure, for http on a machine only you reach",
    )
    serve.set_defaults(func=cmd_serve)
    db = sub.add_parser("db", help="service database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply pending schema migrations")
    up.add_argument("--db", help=f"SQLAlchemy database URL (default {DEFAULT_DB_URL})")
    up.set_defaults(func=cmd_db_upgrade)
