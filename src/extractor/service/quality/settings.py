"""The drift keys of `[tool.listingeval.online]`: window, reference, refresh interval, minimum rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from extractor.errors import ConfigError

Reference = Literal["previous", "eval"]
REFERENCES: tuple[Reference, ...] = ("previous", "eval")
DEFAULT_WINDOW = timedelta(hours=1)
# Below this many rows on either side a field's figure is shown but not exported: with 15 colours and
# 500 rows a side an unchanged distribution stays under 0.16 in 999 windows of 1000 (at 100 rows a
# side it passes 0.2 in most windows: docs/monitoring.md).
DEFAULT_MIN_COUNT = 500
_TABLE = "[tool.listingeval.online]"
# The keys of that table read here; the online checks' settings read the others.
DRIFT_KEYS = ("drift_window", "drift_interval", "drift_reference", "drift_min_count")
_DURATION = re.compile(r"(\d{1,7})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class DriftSettings:
    """How drift is measured: the window, what it is compared with, how often, from how many rows."""

    window: timedelta = DEFAULT_WINDOW
    reference: Reference = "previous"
    # The gauge is refreshed this often (by default once per window).
    interval: timedelta | None = None
    min_count: int = DEFAULT_MIN_COUNT
    # The eval set whose expected values are the reference when `reference` is "eval".
    cases_dir: Path | None = None

    @property
    def refresh(self) -> timedelta:
        """How often the background task measures drift."""
        return self.interval or self.window


def parse_duration(value: Any, key: str) -> timedelta:
    """A duration such as "30s", "15m", "1h" or "7d"; ConfigError for anything else or zero."""
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f'{_TABLE} {key} must be a duration such as "1h", "15m" or "30s", not {value!r}')
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_drift(table: Any, cases_dir: Path) -> DriftSettings:
    """The drift settings from the `online` table (absent: defaults); its other keys are left to their reader."""
    if table is None:
        return DriftSettings()
    if not isinstance(table, dict):
        raise ConfigError(f"{_TABLE} must be a table")
    window = parse_duration(table["drift_window"], "drift_window") if "drift_window" in table else DEFAULT_WINDOW
    interval = parse_duration(table["drift_interval"], "drift_interval") if "drift_interval" in table else None
    reference = table.get("drift_reference", "previous")
    if reference not in REFERENCES:
        raise ConfigError(f'{_TABLE} drift_reference must be "previous" or "eval", not {reference!r}')
    min_count = table.get("drift_min_count", DEFAULT_MIN_COUNT)
    if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
        raise ConfigError(f"{_TABLE} drift_min_count must be a whole number >= 1, not {min_count!r}")
    if reference == "eval" and not cases_dir.is_dir():
        raise ConfigError(f'{_TABLE} drift_reference = "eval" needs the cases folder {cases_dir}, which is missing')
    return DriftSettings(
        window=window,
        reference=reference,
        interval=interval,
        min_count=min_count,
        cases_dir=cases_dir if reference == "eval" else None,
    )
