"""Rollout operations shared by the CLI, the admin API, the dashboard and each replica's monitor."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from extractor.service.config import ServiceConfig
from extractor.service.extraction.metrics import Metrics
from extractor.service.rollout.agreement import ShadowReport, shadow_report
from extractor.service.rollout.decision import Decision, MetricComparison, decide
from extractor.service.rollout.gather import gather
from extractor.service.rollout.routing import Routing, shares
from extractor.service.rollout.snapshot import GUARDRAILS, RolloutPolicy, Snapshot
from extractor.service.rollout.state import Event, Rollout, RolloutError
from extractor.service.rollout.store import RolloutStore

log = logging.getLogger(__name__)
AUTO_HALT_BY = "guardrail"


@dataclass(frozen=True)
class RolloutStatus:
    """The latest rollout, the routing, the shares, the events and (while running) the decision."""

    rollout: Rollout | None
    routing: Routing
    shares: dict[str, float]
    events: tuple[Event, ...]
    snapshot: Snapshot | None
    decision: Decision | None
    shadow: ShadowReport | None

    @property
    def state(self) -> str:
        """none, running, halted or shipped."""
        return self.rollout.state if self.rollout is not None else "none"

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON (`rollout status --json`, `GET /v1/rollout`)."""
        rollout = self.rollout
        decision = self.decision
        return {
            "id": rollout.id if rollout else None,
            "candidate": rollout.candidate if rollout else None,
            "control": rollout.control if rollout else None,
            "state": self.state,
            "step_percent": rollout.step_percent if rollout else 0.0,
            "steps": list(rollout.steps) if rollout else [],
            "started_at": rollout.started_at.isoformat() if rollout else None,
            "shares": self.shares,
            "events": [event.to_json() for event in self.events],
            "metrics": {m.name: _metric_json(m) for m in decision.metrics} if decision else {},
            "decision": {"action": decision.action, "why": decision.why} if decision else None,
            "sample_ratio": dataclasses.asdict(decision.sample_ratio) if decision and decision.sample_ratio else None,
            "shadow": self.shadow.to_json() if self.shadow else None,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _metric_json(metric: MetricComparison) -> dict[str, Any]:
    ci = metric.ci
    return {
        "control": _finite(metric.control),
        "candidate": _finite(metric.candidate),
        "diff": _finite(metric.diff),
        "ci": [_finite(ci[0]), _finite(ci[1])] if ci is not None else None,
        "n_control": metric.n_control,
        "n_candidate": metric.n_candidate,
        "guardrail": metric.guardrail,
        "threshold": metric.threshold,
        "breached": metric.breached,
    }


class Rollouts:
    """Every rollout command, each deciding from freshly read state."""

    def __init__(self, config: ServiceConfig, engine: Engine):
        self.config = config
        self.engine = engine
        self.store = RolloutStore(engine)

    def policy(self, rollout: Rollout) -> RolloutPolicy:
        """The configured policy with the rollout's own minimums (given at start) in place."""
        policy = self.config.rollout.policy
        if rollout.min_requests is not None:
            policy = dataclasses.replace(policy, min_requests=rollout.min_requests)
        if rollout.min_hours is not None:
            policy = dataclasses.replace(policy, min_hours=rollout.min_hours)
        return policy

    def status(self, with_shadow: bool = True) -> RolloutStatus:
        """Where the latest rollout stands, measured now."""
        rollout = self.store.current()
        routing = self.store.routing()
        events = tuple(self.store.events(rollout.id, with_shadow=True) if rollout else self.store.events())
        snapshot = decision = None
        if rollout is not None and rollout.state == "running":
            snapshot = gather(self.engine, self.config.prices, rollout, events)
            decision = decide(snapshot, self.policy(rollout))
        report = shadow_report(self.engine, routing.shadow_variant) if with_shadow else None
        return RolloutStatus(rollout, routing, shares(self.config, routing), events, snapshot, decision, report)

    def start(
        self,
        candidate: str,
        control: str,
        steps: Sequence[float],
        by: str,
        why: str = "",
        min_requests: int | None = None,
        min_hours: float | None = None,
    ) -> Rollout:
        """Start rolling `candidate` out to the users `control` serves."""
        names = [v.name for v in self.config.variants]
        for role, name in (("candidate", candidate), ("control", control)):
            if name not in names:
                raise RolloutError(
                    f"{role} {name!r} is not a variant in [tool.listingeval.variants] ({', '.join(names)})"
                )
        if candidate == control:
            raise RolloutError("the candidate and the control must differ")
        routing = self.store.routing()
        if control not in shares(self.config, routing):
            raise RolloutError(f"{control!r} serves no users (weight 0 and never shipped): nothing to roll out against")
        return self.store.start(candidate, control, steps, by, why or "started", min_requests, min_hours)

    def _running(self) -> Rollout:
        rollout = self.store.current()
        if rollout is None or rollout.state != "running":
            raise RolloutError("no rollout is running (start one with `listingeval rollout start`)")
        return rollout

    def advance(self, by: str, why: str = "") -> Rollout:
        """Go to the next step, if the decision says advance."""
        rollout = self._running()
        decision = self._decide(rollout)
        if decision.action != "advance":
            raise RolloutError(f"not advancing: the decision is {decision.action.replace('_', ' ')}: {decision.why}")
        return self.store.advance(rollout, by, why or decision.why)

    def halt(self, by: str, why: str = "") -> Rollout:
        """Stop serving the candidate now."""
        rollout = self._running()
        halted = self.store.halt(rollout, by, why or "halted by hand")
        assert halted is not None
        return halted

    def ship(self, by: str, why: str = "") -> Rollout:
        """Make the candidate serve all the control's users for good, if the decision says ship."""
        rollout = self._running()
        if not rollout.is_last_step:
            raise RolloutError(f"the rollout is at {rollout.step_percent:g} %: advance it to 100 % before shipping")
        decision = self._decide(rollout)
        if decision.action != "ship":
            raise RolloutError(f"not shipping: the decision is {decision.action.replace('_', ' ')}: {decision.why}")
        return self.store.ship(rollout, by, why or decision.why)

    def shadow(self, variant: str | None, percent: float, against: str | None, by: str, why: str = "") -> Routing:
        """Send `percent` % of served requests (of `against`, or of every other variant) to `variant` too."""
        names = [v.name for v in self.config.variants]
        for name in (variant, against):
            if name is not None and name not in names:
                raise RolloutError(f"{name!r} is not a variant in [tool.listingeval.variants] ({', '.join(names)})")
        if not 0 <= percent <= 100:
            raise RolloutError(f"--share must be a percentage between 0 and 100, not {percent:g}")
        if variant is not None and variant == against:
            raise RolloutError("a variant cannot shadow itself")
        stop = variant is None or percent == 0
        text = why or ("shadow stopped" if stop else f"{variant} shadows {percent:g} % of {against or 'all'} traffic")
        return self.store.shadow(None if stop else variant, percent / 100, against, by, text)

    def _decide(self, rollout: Rollout) -> Decision:
        snapshot = gather(self.engine, self.config.prices, rollout, self.store.events(rollout.id))
        return decide(snapshot, self.policy(rollout))

    def check(self, metrics: Metrics) -> Decision | None:
        """One monitor tick: measure the running rollout, publish gauges, halt it on a breach."""
        routing = self.store.routing()
        _publish_routing(metrics, shares(self.config, routing), routing)
        rollout = self.store.current()
        if rollout is None or rollout.state != "running":
            for name in GUARDRAILS:
                metrics.rollout_breach.labels(name).set(0)
            return None
        decision = self._decide(rollout)
        for metric in decision.metrics:
            if metric.guardrail:
                metrics.rollout_breach.labels(metric.name).set(1 if metric.breached else 0)
        if decision.sample_ratio is not None:
            metrics.rollout_srm_p.set(decision.sample_ratio.p_value)
        if decision.action == "halt" and self.store.halt(rollout, AUTO_HALT_BY, decision.why, automatic=True):
            metrics.rollout_auto_halts.inc()
            _publish_routing(metrics, shares(self.config, self.store.routing()), self.store.routing())
            log.warning("rollout of %s halted by its guardrails: %s", rollout.candidate, decision.why)
        return decision


def _publish_routing(metrics: Metrics, current: dict[str, float], routing: Routing) -> None:
    metrics.rollout_share.clear()
    for name, share in current.items():
        metrics.rollout_share.labels(name).set(share)
    metrics.rollout_step.set(routing.share * 100 if routing.rollout_id else 0.0)
