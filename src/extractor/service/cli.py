"""`listingeval serve` and `listingeval db upgrade`."""

from __future__ import annotations

import argparse
import os
import sys

from extractor.service.config import ADMIN_TOKEN_ENV, DEFAULT_DB_URL


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
    """Apply migrations and run the service under uvicorn."""
    import uvicorn

    from extractor.service.app import create_app
    from extractor.service.config import load_config

    if not os.environ.get("OPENAI_API_KEY"):
        print(
            "listingeval: OPENAI_API_KEY is not set (set it, and OPENAI_BASE_URL for a compatible server)",
            file=sys.stderr,
        )
        return 2
    config = load_config(args.db)
    _upgrade(config.db_url)
    if not config.admin_token:
        print(
            f"listingeval: {ADMIN_TOKEN_ENV} is not set: /metrics and /dashboard answer 503",
            file=sys.stderr,
        )
    names = ", ".join(f"{v.name} ({v.model}, {v.prompt}, weight {v.weight:g})" for v in config.variants)
    print(f"listingeval: variants {names}; database {_safe(config.db_url)}", file=sys.stderr)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)
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
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    serve.set_defaults(func=cmd_serve)
    db = sub.add_parser("db", help="service database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply pending schema migrations")
    up.add_argument("--db", help=f"SQLAlchemy database URL (default {DEFAULT_DB_URL})")
    up.set_defaults(func=cmd_db_upgrade)
