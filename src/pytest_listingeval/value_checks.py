"""Checks on a whole value: equality (type-aware), null, one of several values, a number within a tolerance, a judge."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pytest_listingeval.check_model import Check, CheckOutcome, CheckSpecError, SpecContext
from pytest_listingeval.comparing import compare, describe, is_blank, is_number, show, to_number

# pytest.approx's defaults: a relative tolerance of 1e-6, and 1e-12 absolute beside it.
DEFAULT_REL = Decimal("1e-6")
DEFAULT_ABS = Decimal("1e-12")


def non_empty_list(name: str, value: Any) -> list[Any]:
    """The check's argument when it is a non-empty list; CheckSpecError otherwise."""
    if not isinstance(value, list) or not value:
        raise CheckSpecError(f"{name} needs a non-empty list, got {show(value)}")
    return value


def equals(expected: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The actual equals `expected`, compared as the field's type says (comparing.compare)."""
    value_type = context.value_type

    def apply(actual: Any) -> CheckOutcome:
        match = compare(expected, actual, value_type)
        return CheckOutcome("equals", match.passed, match.reason)

    return Check("equals", expected, apply, values=() if expected is None else (expected,))


def is_null() -> Check:
    """The actual is null or blank text."""

    def apply(actual: Any) -> CheckOutcome:
        if is_blank(actual):
            return CheckOutcome("null", True, f"{show(actual)} counts as null")
        return CheckOutcome("null", False, f"expected null or empty, got {describe(actual)}")

    return Check("null", None, apply)


def any_of(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The actual equals one of the values; `null` among them accepts null and blank text."""
    values = non_empty_list("any_of", argument)
    value_type = context.value_type

    def apply(actual: Any) -> CheckOutcome:
        if is_blank(actual):
            passed = None in values
            verdict = "is allowed" if passed else "is not allowed"
            return CheckOutcome("any_of", passed, f"{show(actual)} counts as null, which {verdict} by {show(values)}")
        for value in values:
            if value is not None and (match := compare(value, actual, value_type)).passed:
                return CheckOutcome("any_of", True, f"option {show(value)}: {match.reason}")
        return CheckOutcome("any_of", False, f"{show(actual)} is none of {show(values)}")

    return Check("any_of", values, apply, values=tuple(v for v in values if v is not None))


def _tolerance(key: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    number = to_number(value) if is_number(value) else None
    if number is None or number < 0 or not number.is_finite():
        raise CheckSpecError(f"approx {key} must be a non-negative number, got {show(value)}")
    return number


def approx(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The actual number is within `abs` of the target, or `rel` times its size (either suffices, as pytest.approx)."""
    target = to_number(argument) if is_number(argument) or isinstance(argument, str) else None
    if target is None or not target.is_finite():
        raise CheckSpecError(f"approx needs a number, got {show(argument)}")
    absolute, relative = _tolerance("abs", options.get("abs")), _tolerance("rel", options.get("rel"))
    if absolute is not None and relative is None:
        tolerance = absolute
    else:
        tolerance = max((relative if relative is not None else DEFAULT_REL) * abs(target), absolute or DEFAULT_ABS)

    def apply(actual: Any) -> CheckOutcome:
        got = to_number(actual)
        if got is None or not got.is_finite():
            return CheckOutcome("approx", False, f"expected a number near {target}, got {describe(actual)}")
        distance = abs(got - target)
        if distance <= tolerance:
            return CheckOutcome("approx", True, f"{show(actual)} is within {tolerance} of {target}")
        return CheckOutcome("approx", False, f"{show(actual)} is {distance} away from {target}, more than {tolerance}")

    return Check("approx", {"approx": argument, **options}, apply)


def judge(rubric: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """A rubric the task's judge model grades; the runner routes it there."""
    if not isinstance(rubric, str) or not rubric.strip():
        raise CheckSpecError(f"judge needs a rubric text, got {show(rubric)}")

    def apply(actual: Any) -> CheckOutcome:
        # The runner routes judge checks to the task's judge; this only runs without one.
        return CheckOutcome("judge", False, "judge checks need a task with a judge")

    return Check("judge", rubric, apply)
