"""Score a task's output against a case, merge repeats, and re-score stored outputs offline."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pytest_listingeval.cases import Case
from pytest_listingeval.check_model import Check, CheckOutcome, CheckSpecError
from pytest_listingeval.field_specs import SpecReader, offline_reader
from pytest_listingeval.paths import PathError, value_at
from pytest_listingeval.plain import jsonable
from pytest_listingeval.results import CaseResult, CheckResult, FieldScore
from pytest_listingeval.task import TaskResult

Judge = Callable[[str, str, Any], CheckOutcome]


def _no_judge(rubric: str, field_name: str, actual: Any) -> CheckOutcome:
    return CheckOutcome("judge", False, "the task offers no judge, so judge checks cannot pass")


def _checked(outcome: CheckOutcome) -> CheckResult:
    return CheckResult(check=outcome.check, passed=outcome.passed, detail=outcome.detail, similarity=outcome.similarity)


def _apply(
    checks: Sequence[Check], name: str, output: Mapping[str, Any], judge: Judge
) -> tuple[Any, list[CheckOutcome]]:
    """The value at the field path and the outcome of every check on it; a missing step is said in each detail."""
    found = value_at(output, name)
    actual = found.value
    ran = [judge(check.argument, name, actual) if check.name == "judge" else check.apply(actual) for check in checks]
    if found.missing is not None:
        ran = [replace(outcome, detail=f"{found.missing}: {outcome.detail}") for outcome in ran]
    return actual, ran


def score_case(case: Case, result: TaskResult, image_label: str | None, judge: Judge | None = None) -> CaseResult:
    """Score every expected field; a failed extraction scores 0 on each and keeps its error."""
    output = jsonable(result.output)
    error = jsonable(result.error)
    if error is None and output is None:
        error = {"type": "invalid_output", "message": "the task returned neither output nor error"}
    failed = error is not None or not isinstance(output, dict)
    fields: dict[str, FieldScore] = {}
    for name, checks in case.checks.items():
        if failed:
            fields[name] = FieldScore(score=0, expected=case.expected[name], actual=None)
            continue
        actual, ran = _apply(checks, name, output, judge or _no_judge)
        fields[name] = FieldScore(
            score=int(all(o.passed for o in ran)),
            expected=case.expected[name],
            actual=actual,
            checks=tuple(_checked(o) for o in ran),
        )
    return CaseResult(
        id=case.id,
        fields=fields,
        error=error,
        output=output if isinstance(output, dict) else None,
        latency_ms=result.latency_ms,
        usage=dict(result.usage),
        image=image_label,
        tags=case.tags,
        critical=case.critical,
        expectations=case.expectations,
    )


def merge_repeats(runs: list[CaseResult]) -> CaseResult:
    """One result from N repeats: per-field pass rates as scores, the first run's values shown."""
    first = runs[0]
    if len(runs) == 1:
        return first
    harness = next((r.harness_error for r in runs if r.harness_error), None)
    if harness is not None:
        return next(r for r in runs if r.harness_error)
    fields = {
        name: scored.model_copy(
            update={
                "score": round(sum(r.fields[name].score for r in runs) / len(runs), 6),
                "repeat_scores": tuple(int(r.fields[name].score) for r in runs),
                "repeat_actuals": tuple(r.fields[name].actual for r in runs),
            }
        )
        for name, scored in first.fields.items()
    }
    errors = [r.error for r in runs if r.error is not None]
    usage: dict[str, int] = {}
    for run in runs:
        for key, value in run.usage.items():
            usage[key] = usage.get(key, 0) + value
    return first.model_copy(
        update={
            "fields": fields,
            "error": errors[0] if len(errors) == len(runs) else None,
            "repeat_outputs": tuple(r.output if r.error is None else None for r in runs),
            "latency_ms": round(sum(r.latency_ms for r in runs) / len(runs)),
            "usage": usage,
            "repeats": len(runs),
            "repeat_errors": len(errors),
        }
    )


def harness_failure(case: Case | None, case_id: str, message: str, image_label: str | None) -> CaseResult:
    """A case the harness could not run (missing cassette, crash, unreachable API): no score at all."""
    expected = case.expected if case else {}
    return CaseResult(
        id=case_id,
        fields={name: FieldScore(score=0, expected=spec, actual=None) for name, spec in expected.items()},
        error={"type": "harness_error", "message": message},
        image=image_label,
        tags=case.tags if case else (),
        critical=case.critical if case else (),
        expectations=case.expectations if case else None,
        harness_error=message,
    )


class NotRescorable(Exception):
    """A stored output cannot be scored offline against a spec (a judge check that changed, an unknown check)."""


def _has_judge(checks: Sequence[Check]) -> bool:
    return any(check.name == "judge" for check in checks)


def rescore_field(
    name: str,
    spec: Any,
    outputs: Sequence[Mapping[str, Any] | None],
    stored_spec: Any,
    stored_score: float | None,
    reader: SpecReader | None = None,
) -> float:
    """Score stored outputs (one per repeat; None = failed) against today's spec for one field.

    Deterministic checks are re-run; a judge check needs a model, so its stored score is
    reused when the spec is unchanged, and the field is NotRescorable when it changed. The
    reader knows the output model and the custom checks (by default: none, and the entry
    points' checks); a check it does not know makes the field NotRescorable, saying so.
    """
    try:
        checks = (reader or offline_reader()).checks_once(name, spec)
    except (CheckSpecError, PathError) as exc:
        raise NotRescorable(f"field {name!r} cannot be re-scored here: {exc}") from exc
    if _has_judge(checks):
        if stored_score is not None and jsonable(stored_spec) == jsonable(spec):
            return stored_score
        raise NotRescorable(f"field {name!r} has a judge check whose rubric changed")
    if not outputs:
        raise NotRescorable(f"field {name!r}: no stored output to score")
    scores = [
        0 if output is None else int(all(o.passed for o in _apply(checks, name, output, _no_judge)[1]))
        for output in outputs
    ]
    return round(sum(scores) / len(scores), 6) if len(scores) > 1 else float(scores[0])
