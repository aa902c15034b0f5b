"""Finalising rows left `pending` by a process that died: they become `lost`.

A request's row can only stay `pending` past its deadline (plus the short write retries) when
the process handling it stopped. The reaper is one conditional UPDATE on rows still `pending`
and created before `now - (deadline + grace)`, so replicas may all run it: a row is taken once,
and a second run finds nothing. A result that turns up later from an outbox overwrites `lost`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio

from extractor.service.storage.durability import TRANSIENT_ERRORS, Throttle, describe
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store

log = logging.getLogger(__name__)


def reap_once(store: Store, deadline_s: float, grace_s: float) -> int:
    """Mark `pending` rows older than the deadline plus the grace as `lost`; how many."""
    cutoff = utcnow() - timedelta(seconds=deadline_s + grace_s)
    message = f"no result was stored within {deadline_s + grace_s:g} s (the service stopped while it ran)"
    reaped = store.reap(cutoff, message)
    if reaped:
        log.warning("reaper: %d extractions left pending were marked lost", reaped)
    return reaped


async def reap_forever(store: Store, deadline_s: float, grace_s: float, interval_s: float) -> None:
    """Reap at once (rows left by a crash), then every `interval_s` seconds."""
    unavailable = Throttle(log, every_s=max(10.0, interval_s))
    while True:
        try:
            await anyio.to_thread.run_sync(lambda: reap_once(store, deadline_s, grace_s))
        except TRANSIENT_ERRORS as exc:
            unavailable.warning(f"reaper: database unavailable ({describe(exc)})")
        except Exception:
            # A background loop that dies would silently stop reaping; keep going.
            log.exception("reaper: reaping failed")
        await anyio.sleep(interval_s)
