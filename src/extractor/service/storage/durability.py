"""Riding out database outages: which errors are transient, bounded write retries, quiet logs.

Knobs come from the environment (each optional):

- `LISTINGEVAL_OUTBOX`: the outbox directory (default: `<sqlite file>.outbox` beside a SQLite
  database, else `listingeval-outbox` in the working directory);
- `LISTINGEVAL_OUTBOX_MAX`: how many results the outbox holds at most (default 10000);
- `LISTINGEVAL_DRAIN_INTERVAL_S`: how often the outbox is drained (default 1);
- `LISTINGEVAL_REAP_GRACE_S`: how long past its deadline a `pending` row is reaped (default 30);
- `LISTINGEVAL_REAP_INTERVAL_S`: how often the reaper runs (default 60).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
from sqlalchemy import make_url

from extractor.errors import ConfigError
from extractor.service.storage.db import UNAVAILABLE_ERRORS

T = TypeVar("T")

OUTBOX_ENV = "LISTINGEVAL_OUTBOX"
OUTBOX_MAX_ENV = "LISTINGEVAL_OUTBOX_MAX"
DRAIN_INTERVAL_ENV = "LISTINGEVAL_DRAIN_INTERVAL_S"
REAP_GRACE_ENV = "LISTINGEVAL_REAP_GRACE_S"
REAP_INTERVAL_ENV = "LISTINGEVAL_REAP_INTERVAL_S"

# Short on purpose: the request is waiting, and the outbox keeps the result past a longer blink.
WRITE_DELAYS_S = (0.05, 0.1, 0.2, 0.4)


TRANSIENT_ERRORS = UNAVAILABLE_ERRORS


@dataclass(frozen=True)
class Durability:
    """Where finished results wait out an outage and when abandoned rows are reaped."""

    outbox_dir: Path
    outbox_max: int = 10_000
    drain_interval_s: float = 1.0
    reap_grace_s: float = 30.0
    reap_interval_s: float = 60.0
    write_delays_s: tuple[float, ...] = WRITE_DELAYS_S

    @classmethod
    def from_env(cls, db_url: str, environ: Mapping[str, str] | None = None) -> Durability:
        """The settings from the environment, with defaults for what is unset."""
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {raw!r}") from None
            if value <= 0:
                raise ConfigError(f"{name} must be above zero, not {raw!r}")
            return value

        return cls(
            outbox_dir=Path(env.get(OUTBOX_ENV) or default_outbox_dir(db_url)),
            outbox_max=int(number(OUTBOX_MAX_ENV, 10_000)),
            drain_interval_s=number(DRAIN_INTERVAL_ENV, 1.0),
            reap_grace_s=number(REAP_GRACE_ENV, 30.0),
            reap_interval_s=number(REAP_INTERVAL_ENV, 60.0),
        )


def default_outbox_dir(db_url: str) -> Path:
    """Beside a SQLite file (so each database has its own), else in the working directory."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.outbox")
    return Path("listingeval-outbox")


def is_transient(exc: BaseException) -> bool:
    """True when a database error means it is unreachable or overloaded, not that the query is wrong."""
    return isinstance(exc, TRANSIENT_ERRORS)


async def retry_write(func: Callable[[], T], delays_s: tuple[float, ...] = WRITE_DELAYS_S) -> T:
    """Run a blocking write in a thread, retrying transient errors after each delay in turn."""
    for delay in delays_s:
        try:
            return await anyio.to_thread.run_sync(func)
        except TRANSIENT_ERRORS:
            # The sleep is on the event loop: a waiting retry holds no worker thread.
            await anyio.sleep(delay)
    return await anyio.to_thread.run_sync(func)


class Throttle:
    """Log one line per `every_s` for a recurring problem and count the ones held back."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._held = 0

    def warning(self, message: str) -> None:
        """Log `message` now, or count it when a line went out less than `every_s` ago."""
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every_s:
                self._held += 1
                return
            held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} similar since the last report)" if held else ""
        self.logger.warning("%s%s", message, suffix)


def describe(exc: BaseException) -> str:
    """A one-line summary of a database error (SQLAlchemy's own text spans several lines)."""
    inner = getattr(exc, "orig", None) or exc
    first = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {first[0] if first else ''}".rstrip(": ")
