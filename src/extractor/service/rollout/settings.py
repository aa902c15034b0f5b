"""`[tool.listingeval.rollout]`: the decision policy, how often replicas check it, the shadow bound."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from extractor.errors import ConfigError
from extractor.service.rollout.snapshot import GUARDRAILS, RolloutPolicy

DEFAULT_CHECK_INTERVAL_S = 15.0
DEFAULT_SHADOW_CONCURRENCY = 4
_TABLE = "[tool.listingeval.rollout]"


@dataclass(frozen=True)
class RolloutSettings:
    """The rollout policy plus the service-side knobs around it."""

    policy: RolloutPolicy = field(default_factory=RolloutPolicy)
    # Each replica recomputes the decision this often and halts the rollout on a breach.
    check_interval_s: float = DEFAULT_CHECK_INTERVAL_S
    # Shadow calls in flight at once per replica; a sampled request finding them all busy is skipped.
    shadow_max_concurrency: int = DEFAULT_SHADOW_CONCURRENCY


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float = math.inf) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high or math.isnan(value):
        bound = f"between {low:g} and {high:g}" if high != math.inf else f">= {low:g}"
        raise ConfigError(f"{_TABLE} {key} must be a number {bound}, not {value!r}")
    return float(value)


def _whole(table: dict[str, Any], key: str, default: int, low: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{_TABLE} {key} must be a whole number >= {low}, not {value!r}")
    return value


def parse_rollout(table: Any) -> RolloutSettings:
    """The rollout settings from the `rollout` table of `[tool.listingeval]` (absent: defaults)."""
    if table is None:
        return RolloutSettings()
    if not isinstance(table, dict):
        raise ConfigError(f"{_TABLE} must be a table")
    known = {"alpha", "min_requests", "min_hours", "min_halt_requests", "guardrails", "check_interval_s"}
    known |= {"shadow_max_concurrency"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{_TABLE}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(known))})")
    defaults = RolloutPolicy()
    guardrails = dict(defaults.guardrails)
    given = table.get("guardrails", {})
    if not isinstance(given, dict):
        raise ConfigError(f"{_TABLE} guardrails must be a table of tolerated increases")
    for name in given:
        if name not in GUARDRAILS:
            raise ConfigError(f"{_TABLE} guardrails: unknown guardrail {name!r} (known: {', '.join(GUARDRAILS)})")
        guardrails[name] = _number(given, name, 0.0, 0.0)
    policy = RolloutPolicy(
        alpha=_number(table, "alpha", defaults.alpha, 1e-6, 0.5),
        min_requests=_whole(table, "min_requests", defaults.min_requests, 0),
        min_hours=_number(table, "min_hours", defaults.min_hours, 0.0),
        min_halt_requests=_whole(table, "min_halt_requests", defaults.min_halt_requests, 1),
        guardrails=MappingProxyType(guardrails),
    )
    return RolloutSettings(
        policy=policy,
        check_interval_s=_number(table, "check_interval_s", DEFAULT_CHECK_INTERVAL_S, 0.05),
        shadow_max_concurrency=_whole(table, "shadow_max_concurrency", DEFAULT_SHADOW_CONCURRENCY, 1),
    )
