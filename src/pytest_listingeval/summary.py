"""Aggregate scored cases: per-field accuracy with intervals, micro overall, exact cases, usage."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pytest_listingeval.outcome import FieldSummary, FlakyField, Latency, Summary, Usage
from pytest_listingeval.results import CaseResult
from pytest_listingeval.stats import bootstrap_interval, wilson_interval


def _percentile(values: list[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(q * len(ordered)) - 1, 0)
    return float(ordered[rank])


def _ratio(numerator: float, denominator: int) -> float:
    return round(numerator / denominator, 6) if denominator else 0.0


def _field_summary(scores: list[float]) -> FieldSummary:
    if all(s.is_integer() for s in scores):
        low, high = wilson_interval(int(sum(scores)), len(scores))
    else:
        low, high = bootstrap_interval(scores)
    return FieldSummary(
        accuracy=_ratio(sum(scores), len(scores)), n=len(scores), ci_low=round(low, 4), ci_high=round(high, 4)
    )


def summarise(results: Iterable[CaseResult], duration_s: float = 0.0, cost_usd: float | None = None) -> Summary:
    """Aggregates over the scored cases; cases the harness could not run only count as harness errors."""
    ordered = sorted(results, key=lambda r: r.id)
    scored = [r for r in ordered if r.scored]
    per_field: dict[str, list[float]] = {}
    for result in scored:
        for name, field_score in result.fields.items():
            per_field.setdefault(name, []).append(float(field_score.score))
    all_scores = [s for scores in per_field.values() for s in scores]
    exact = [r for r in scored if r.fields and r.error is None and not r.mismatched_fields]
    latencies = [r.latency_ms for r in scored]
    return Summary(
        cases=len(ordered),
        errors=sum(1 for r in scored if r.error is not None),
        harness_errors=len(ordered) - len(scored),
        overall=_ratio(sum(all_scores), len(all_scores)),
        exact_cases=_ratio(len(exact), len(scored)),
        fields={name: _field_summary(per_field[name]) for name in sorted(per_field)},
        usage=Usage(
            input_tokens=sum(r.usage.get("input_tokens", 0) for r in ordered),
            output_tokens=sum(r.usage.get("output_tokens", 0) for r in ordered),
        ),
        repeats=max((r.repeats for r in ordered), default=1),
        flaky=tuple(
            FlakyField(case=r.id, field=name, pass_rate=r.fields[name].score) for r in scored for name in r.flaky_fields
        ),
        latency_ms=Latency(
            p50=_percentile(latencies, 0.5),
            p95=_percentile(latencies, 0.95),
            mean=round(sum(latencies) / len(latencies), 1) if latencies else 0.0,
        ),
        duration_s=round(duration_s, 3),
        cost_usd=cost_usd,
    )
