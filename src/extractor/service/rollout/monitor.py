"""Each replica's rollout watch: measure the running rollout every few seconds, halt it on a breach.

Several replicas may all watch: the halt is a conditional update, so exactly one of them makes
it (and counts it), and every replica's next request reads the new routing.
"""

from __future__ import annotations

import logging

import anyio

from extractor.service.extraction.metrics import Metrics
from extractor.service.rollout.commands import Rollouts
from extractor.service.storage.durability import TRANSIENT_ERRORS, Throttle, describe

log = logging.getLogger(__name__)


async def watch_forever(rollouts: Rollouts, metrics: Metrics, interval_s: float) -> None:
    """Check the rollout at once, then every `interval_s` seconds, until cancelled."""
    unavailable = Throttle(log, every_s=max(10.0, interval_s))
    while True:
        try:
            await anyio.to_thread.run_sync(lambda: rollouts.check(metrics))
        except TRANSIENT_ERRORS as exc:
            unavailable.warning(f"rollout watch: database unavailable ({describe(exc)})")
        except Exception:
            # A watch that dies would silently stop guarding the rollout; keep going.
            log.exception("rollout watch: the check failed")
        await anyio.sleep(interval_s)
