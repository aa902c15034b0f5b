"""Which variant serves which user right now: the routing every replica reads before each request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.variants import assign, bucket


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Routing:
    """The routing state: shipped replacements, the running rollout's split and the shadow sample.

    `routes` maps a catalogue variant to the variant that now serves its users (a shipped
    rollout replaced it). While a rollout runs, the users its control serves are split by a
    second hash salted with the rollout id: the ones below `share` see the candidate. The
    threshold only grows as the rollout advances, so a user who saw the candidate keeps it.
    """

    routes: Mapping[str, str] = field(default_factory=_frozen)
    rollout_id: str | None = None
    candidate: str | None = None
    control: str | None = None
    share: float = 0.0
    shadow_variant: str | None = None
    shadow_share: float = 0.0
    shadow_against: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "routes": dict(self.routes),
            "rollout_id": self.rollout_id,
            "candidate": self.candidate,
            "control": self.control,
            "share": self.share,
            "shadow_variant": self.shadow_variant,
            "shadow_share": self.shadow_share,
            "shadow_against": self.shadow_against,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Routing:
        """The routing from its stored form (nothing stored: every user on the catalogue weights)."""
        if not data:
            return cls()
        return cls(
            routes=_frozen({str(k): str(v) for k, v in (data.get("routes") or {}).items()}),
            rollout_id=data.get("rollout_id"),
            candidate=data.get("candidate"),
            control=data.get("control"),
            share=float(data.get("share") or 0.0),
            shadow_variant=data.get("shadow_variant"),
            shadow_share=float(data.get("shadow_share") or 0.0),
            shadow_against=data.get("shadow_against"),
        )

    def served_by(self, catalogue_variant: str) -> str:
        """The variant serving the users the catalogue weights give to `catalogue_variant`."""
        return self.routes.get(catalogue_variant, catalogue_variant)

    def shipped(self, control: str, candidate: str) -> Mapping[str, str]:
        """The routes once `candidate` replaces `control` for good (earlier replacements follow it)."""
        routes = {base: (candidate if now == control else now) for base, now in self.routes.items()}
        routes[control] = candidate
        return _frozen({base: now for base, now in routes.items() if base != now})


@dataclass(frozen=True)
class Assignment:
    """The variant a request gets, and the rollout that split it (None outside a rollout)."""

    variant: Variant
    rollout_id: str | None = None


def rollout_bucket(rollout_id: str, salt: str, user_id: str) -> float:
    """The user's draw for one rollout, independent of the catalogue draw and of other rollouts."""
    return bucket(f"{salt}:rollout:{rollout_id}", user_id)


def assign_request(config: ServiceConfig, routing: Routing, user_id: str) -> Assignment:
    """The variant serving this user now: catalogue weights, then shipped routes, then the rollout split.

    A route or rollout naming a variant the catalogue no longer has (removed in a redeploy) is
    ignored for that user, who gets the catalogue's variant rather than an error.
    """
    catalogue = {variant.name: variant for variant in config.variants}
    base = assign(config.variants, config.salt, user_id)
    name = routing.served_by(base.name)
    if name not in catalogue:
        return Assignment(base)
    rollout_id, candidate = routing.rollout_id, routing.candidate
    if rollout_id is not None and name == routing.control and candidate in catalogue:
        if rollout_bucket(rollout_id, config.salt, user_id) < routing.share:
            name = candidate
        return Assignment(catalogue[name], rollout_id)
    return Assignment(catalogue[name])


def shares(config: ServiceConfig, routing: Routing) -> dict[str, float]:
    """Each variant's intended share of all traffic under this routing (variants with none omitted)."""
    total = sum(v.weight for v in config.variants)
    result: dict[str, float] = {}
    for variant in config.variants:
        name = routing.served_by(variant.name)
        result[name] = result.get(name, 0.0) + variant.weight / total
    if routing.rollout_id is not None and routing.control in result and routing.candidate is not None:
        moved = result[routing.control] * routing.share
        result[routing.control] -= moved
        result[routing.candidate] = result.get(routing.candidate, 0.0) + moved
    return {name: round(share, 6) for name, share in sorted(result.items()) if share > 0}
