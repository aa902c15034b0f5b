"""Per-case results and their aggregate (DESIGN sections 5 and 6)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pytest_listingeval.cases import Case
from pytest_listingeval.checks import Check, CheckOutcome
from pytest_listingeval.stats import bootstrap_interval, wilson_interval
from pytest_listingeval.task import TaskResult


@dataclass(frozen=True)
class CaseResult:
    """One case's scored outcome; travels from xdist workers as `to_dict()`."""

    id: str
    fields: dict[str, dict[str, Any]]
    error: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    latency_ms: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    image: str | None = None
    tags: tuple[str, ...] = ()
    critical: tuple[str, ...] = ()
    harness_error: str | None = None
    repeats: int = 1
    repeat_errors: int = 0

    @property
    def mismatched_fields(self) -> list[str]:
        """Fields whose checks did not all pass (in every repeat)."""
        return [name for name, scored in self.fields.items() if scored["score"] < 1]

    @property
    def critical_misses(self) -> list[str]:
        """Critical fields that did not pass (in every repeat)."""
        return [name for name in self.critical if self.fields.get(name, {}).get("score", 0) < 1]

    @property
    def flaky_fields(self) -> list[str]:
        """Fields that passed in some repeats and failed in others."""
        return [name for name, scored in self.fields.items() if 0 < scored["score"] < 1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form used in the results file and on test reports."""
        return {
            "id": self.id,
            "error": self.error,
            "fields": self.fields,
            "output": self.output,
            "latency_ms": self.latency_ms,
            "usage": self.usage,
            "image": self.image,
            "tags": list(self.tags),
            "critical": list(self.critical),
            "harness_error": self.harness_error,
            "repeats": self.repeats,
            "repeat_errors": self.repeat_errors,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        """Inverse of `to_dict`."""
        return cls(
            id=data["id"],
            fields=dict(data["fields"]),
            error=data.get("error"),
            output=data.get("output"),
            latency_ms=int(data.get("latency_ms") or 0),
            usage=dict(data.get("usage") or {}),
            image=data.get("image"),
            tags=tuple(data.get("tags") or ()),
            critical=tuple(data.get("critical") or ()),
            harness_error=data.get("harness_error"),
            repeats=int(data.get("repeats") or 1),
            repeat_errors=int(data.get("repeat_errors") or 0),
        )


Judge = Callable[[str, str, Any], CheckOutcome]


def _no_judge(rubric: str, field_name: str, actual: Any) -> CheckOutcome:
    return CheckOutcome("judge", False, "the task offers no judge, so judge checks cannot pass")


def _apply(checks: list[Check], name: str, actual: Any, judge: Judge) -> list[CheckOutcome]:
    return [judge(check.argument, name, actual) if check.name == "judge" else check.apply(actual) for check in checks]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def jsonable(value: Any) -> Any:
    """The value as plain JSON data: enum members by value, unknown objects as strings.

    Results travel from xdist workers through execnet, which refuses enum members and
    other objects a task may hand back in its output (`model_dump()` without mode="json").
    """
    return json.loads(json.dumps(value, default=_plain, ensure_ascii=False))


def score_case(case: Case, result: TaskResult, image_label: str | None, judge: Judge | None = None) -> CaseResult:
    """Score every expected field; a failed extraction scores 0 on each and keeps its error."""
    fields: dict[str, dict[str, Any]] = {}
    output = jsonable(result.output)
    for name, checks in case.checks.items():
        if result.error is not None or output is None:
            actual = None
            outcomes: list[dict[str, Any]] = []
            score = 0
        else:
            actual = output.get(name)
            ran = _apply(checks, name, actual, judge or _no_judge)
            outcomes = [o.to_dict() for o in ran]
            score = int(all(o.passed for o in ran))
        fields[name] = {
            "score": score,
            "expected": case.expected[name],
            "actual": actual,
            "checks": outcomes,
        }
    error = jsonable(result.error)
    if error is None and output is None:
        error = {"type": "invalid_output", "message": "the task returned neither output nor error"}
    return CaseResult(
        id=case.id,
        fields=fields,
        error=error,
        output=output,
        latency_ms=result.latency_ms,
        usage=dict(result.usage),
        image=image_label,
        tags=case.tags,
        critical=case.critical,
    )


def merge_repeats(runs: list[CaseResult]) -> CaseResult:
    """One result from N repeats: per-field pass rates as scores, the first run's values shown."""
    first = runs[0]
    if len(runs) == 1:
        return first
    fields: dict[str, dict[str, Any]] = {}
    for name, scored in first.fields.items():
        scores = [int(r.fields[name]["score"]) for r in runs]
        fields[name] = {
            **scored,
            "score": round(sum(scores) / len(scores), 6),
            "repeat_scores": scores,
            "repeat_actuals": [r.fields[name]["actual"] for r in runs],
        }
    errors = [r.error for r in runs if r.error is not None]
    harness = next((r.harness_error for r in runs if r.harness_error), None)
    usage: dict[str, int] = {}
    for run in runs:
        for key, value in run.usage.items():
            usage[key] = usage.get(key, 0) + value
    return CaseResult(
        id=first.id,
        fields=fields,
        error=errors[0] if len(errors) == len(runs) else None,
        output=first.output,
        latency_ms=round(sum(r.latency_ms for r in runs) / len(runs)),
        usage=usage,
        image=first.image,
        tags=first.tags,
        critical=first.critical,
        harness_error=harness,
        repeats=len(runs),
        repeat_errors=len(errors),
    )


def harness_failure(case: Case | None, case_id: str, message: str, image_label: str | None) -> CaseResult:
    """A case the harness could not run (missing cassette, crash): 0 everywhere, flagged."""
    expected = case.expected if case else {}
    return CaseResult(
        id=case_id,
        fields={name: {"score": 0, "expected": spec, "actual": None, "checks": []} for name, spec in expected.items()},
        error={"type": "harness_error", "message": message},
        image=image_label,
        tags=case.tags if case else (),
        critical=case.critical if case else (),
        harness_error=message,
    )


def _percentile(values: list[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(q * len(ordered)) - 1, 0)
    return float(ordered[rank])


def summarise(results: Iterable[CaseResult]) -> dict[str, Any]:
    """Per-field accuracy with Wilson intervals, micro overall, exact-case rate, errors, usage."""
    ordered = sorted(results, key=lambda r: r.id)
    per_field: dict[str, list[float]] = {}
    for result in ordered:
        for name, scored in result.fields.items():
            per_field.setdefault(name, []).append(float(scored["score"]))
    fields: dict[str, dict[str, Any]] = {}
    for name in sorted(per_field):
        scores = per_field[name]
        if all(s.is_integer() for s in scores):
            low, high = wilson_interval(int(sum(scores)), len(scores))
        else:
            low, high = bootstrap_interval(scores)
        fields[name] = {
            "accuracy": _ratio(sum(scores), len(scores)),
            "n": len(scores),
            "ci_low": round(low, 4),
            "ci_high": round(high, 4),
        }
    all_scores = [s for scores in per_field.values() for s in scores]
    exact = [r for r in ordered if r.fields and r.error is None and not r.mismatched_fields]
    flaky = [
        {"case": r.id, "field": name, "pass_rate": r.fields[name]["score"]} for r in ordered for name in r.flaky_fields
    ]
    latencies = [r.latency_ms for r in ordered if r.harness_error is None]
    return {
        "cases": len(ordered),
        "errors": sum(1 for r in ordered if r.error is not None),
        "overall": _ratio(sum(all_scores), len(all_scores)),
        "exact_cases": _ratio(len(exact), len(ordered)),
        "fields": fields,
        "usage": {
            "input_tokens": sum(r.usage.get("input_tokens", 0) for r in ordered),
            "output_tokens": sum(r.usage.get("output_tokens", 0) for r in ordered),
        },
        "repeats": max((r.repeats for r in ordered), default=1),
        "flaky": flaky,
        "latency_ms": {
            "p50": _percentile(latencies, 0.5),
            "p95": _percentile(latencies, 0.95),
            "mean": round(sum(latencies) / len(latencies), 1) if latencies else 0.0,
        },
    }


def _ratio(numerator: float, denominator: int) -> float:
    return round(numerator / denominator, 6) if denominator else 0.0
