"""Prometheus metrics on a per-app registry (each process counts its own requests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90)


class Metrics:
    """The service's counters and histograms, registered on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "listingeval_requests",
            "Extraction requests by variant and final status.",
            ["variant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "listingeval_latency_seconds",
            "Time to answer an extraction request (model call included), by variant.",
            ["variant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "listingeval_tokens",
            "Model tokens used, by variant and kind (input or output).",
            ["variant", "kind"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "listingeval_feedback",
            "Thumbs received, by variant and rating.",
            ["variant", "rating"],
            registry=self.registry,
        )
        self.finals = Counter(
            "listingeval_finals",
            "Published listings received, by variant (the denominator of correction rates).",
            ["variant"],
            registry=self.registry,
        )
        self.corrections = Counter(
            "listingeval_corrections",
            "Fields the seller changed before publishing, by variant and field.",
            ["variant", "field"],
            registry=self.registry,
        )

        self.shadow = Counter(
            "listingeval_shadow",
            "Shadow calls by shadow variant and how they ended (a status, `skipped` when every slot was busy, `lost`).",
            ["variant", "result"],
            registry=self.registry,
        )
        self.rollout_share = Gauge(
            "listingeval_rollout_share",
            "Each variant's intended share of all traffic under the routing this process last read.",
            ["variant"],
            registry=self.registry,
        )
        self.rollout_step = Gauge(
            "listingeval_rollout_step_percent",
            "The running rollout's step: the candidate's percentage of the control's users (0 when none runs).",
            registry=self.registry,
        )
        self.rollout_breach = Gauge(
            "listingeval_rollout_guardrail_breached",
            "1 while a guardrail of the running rollout is worse for the candidate with confidence.",
            ["guardrail"],
            registry=self.registry,
        )
        self.rollout_auto_halts = Counter(
            "listingeval_rollout_auto_halts",
            "Rollouts this process halted by itself on a guardrail breach.",
            registry=self.registry,
        )
        self.rollout_srm_p = Gauge(
            "listingeval_rollout_srm_p_value",
            "p-value of the sample-ratio check of the running rollout (below 0.001: assignment is broken).",
            registry=self.registry,
        )

        self.online_checks = Counter(
            "listingeval_online_checks",
            "Online check results on served outputs, by variant, check (`<field>:<check>`) and result.",
            ["variant", "check", "result"],
            registry=self.registry,
        )
        self.online_judge = Counter(
            "listingeval_online_judge",
            "Sampled judge verdicts by variant and result (pass, fail, error; over_budget when the budget refused).",
            ["variant", "result"],
            registry=self.registry,
        )
        self.online_backlog = Gauge(
            "listingeval_online_backlog",
            "Finished extractions not scored online yet (every replica's, as this process last counted them).",
            registry=self.registry,
        )
        self.drift = Gauge(
            "listingeval_drift",
            "Population stability index of each output enum field and photo property, the current drift window "
            "against its reference (only fields with enough rows on both sides; over 0.2 is a significant shift).",
            ["field"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
