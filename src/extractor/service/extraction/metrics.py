"""Prometheus metrics on a per-app registry (each process counts its own requests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
