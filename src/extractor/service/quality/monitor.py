"""Each replica's drift watch: measure the drift window every refresh and publish `listingeval_drift`.

Every replica reads the same database, so every replica exports the same figures; the alert
takes their maximum per field.
"""

from __future__ import annotations

import contextlib
import logging

import anyio
from sqlalchemy import Engine

from extractor.service.extraction.metrics import Metrics
from extractor.service.quality.drift import DriftReport, measure
from extractor.service.quality.settings import DriftSettings
from extractor.service.storage.durability import TRANSIENT_ERRORS, Throttle, describe

log = logging.getLogger(__name__)


def publish(report: DriftReport, metrics: Metrics) -> None:
    """Set the gauge of every field with a figure on enough rows; drop the others' stale values."""
    for found in report.fields:
        if found.exported and found.psi is not None:
            metrics.drift.labels(found.field).set(found.psi)
        else:
            with contextlib.suppress(KeyError):  # never set, or already dropped
                metrics.drift.remove(found.field)


async def drift_forever(engine: Engine, settings: DriftSettings, metrics: Metrics) -> None:
    """Measure drift at once, then every refresh interval, until cancelled."""
    interval_s = settings.refresh.total_seconds()
    unavailable = Throttle(log, every_s=max(10.0, interval_s))
    while True:
        try:
            report = await anyio.to_thread.run_sync(lambda: measure(engine, settings))
            publish(report, metrics)
        except TRANSIENT_ERRORS as exc:
            unavailable.warning(f"drift watch: database unavailable ({describe(exc)})")
        except Exception:
            # A watch that dies would silently freeze the gauge; keep going.
            log.exception("drift watch: measuring drift failed")
        await anyio.sleep(interval_s)
