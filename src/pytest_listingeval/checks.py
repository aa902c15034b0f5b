"""The checks of a case file: read a field's expected value into checks, and apply them to an actual value.

The built-in checks live by job in value_checks, text_checks and list_checks, type-aware
equality in comparing; custom_checks gathers the factories a project registers, and
`custom_check` here turns one into a check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pytest_listingeval.check_model import Check, CheckFactory, CheckOutcome, CheckSpecError, SpecContext
from pytest_listingeval.comparing import describe, is_list, normalise, show
from pytest_listingeval.list_checks import length, max_items, min_items, unordered
from pytest_listingeval.text_checks import DEFAULT_SIMILARITY, contains_all, contains_any, max_len, regex, similar_to
from pytest_listingeval.value_checks import any_of, approx, equals, is_null, judge

__all__ = [
    "CHECK_NAMES",
    "DEFAULT_SIMILARITY",
    "RESERVED_NAMES",
    "Check",
    "CheckOutcome",
    "CheckSpecError",
    "SpecContext",
    "custom_check",
    "normalise",
    "parse_spec",
    "run_checks",
]

Builtin = Callable[[Any, Mapping[str, Any], SpecContext], Check]
_SCALARS = (str, int, float, bool, Decimal, dt.date)
# Keys a check takes besides its own name.
_OPTIONS: dict[str, frozenset[str]] = {"similar_to": frozenset({"min"}), "approx": frozenset({"abs", "rel"})}
_LIST_HINT = (
    "the field is a list, so a YAML list here means 'all of these checks': to expect the list itself "
    "write {equals: [...]} (in this order) or {unordered: [...]} (in any order)"
)


def _each(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """Every item of the list passes the check(s); an empty list passes."""
    inner = parse_spec(argument, context.for_items())
    if any(check.name == "judge" for check in inner):
        raise CheckSpecError("judge cannot run inside each: judge the whole field instead")
    names = ", ".join(check.name for check in inner)

    def apply(actual: Any) -> CheckOutcome:
        if not is_list(actual):
            return CheckOutcome("each", False, f"each applies to a list, got {describe(actual)}")
        if not actual:
            return CheckOutcome("each", True, "the list is empty, so each has nothing to check and passes")
        failures = [(i, item, o) for i, item in enumerate(actual) for o in run_checks(inner, item) if not o.passed]
        if not failures:
            return CheckOutcome("each", True, f"all {len(actual)} items pass {names}")
        index, item, outcome = failures[0]
        failed = len({i for i, _, _ in failures})
        detail = f"{failed} of {len(actual)} items fail; item [{index}] {show(item)}: {outcome.check}: {outcome.detail}"
        return CheckOutcome("each", False, detail)

    return Check("each", argument, apply, item_checks=tuple(inner))


_BUILTINS: dict[str, Builtin] = {
    "equals": equals,
    "any_of": any_of,
    "approx": approx,
    "contains_all": contains_all,
    "contains_any": contains_any,
    "regex": regex,
    "similar_to": similar_to,
    "max_len": max_len,
    "unordered": unordered,
    "length": length,
    "min_items": min_items,
    "max_items": max_items,
    "each": _each,
    "judge": judge,
}
CHECK_NAMES = tuple(_BUILTINS)
RESERVED_NAMES = frozenset({*CHECK_NAMES, "null"})


def parse_spec(spec: Any, context: SpecContext | None = None) -> list[Check]:
    """Parse one field's expected value into the checks that must all pass.

    `context` gives the field's type (how a bare value compares) and the custom checks in use.
    """
    context = context or SpecContext()
    if isinstance(spec, list):
        return _parse_list(spec, context)
    if spec is None:
        return [is_null()]
    if isinstance(spec, Mapping):
        return [_parse_mapping(spec, context)]
    if isinstance(spec, _SCALARS):
        return [equals(spec, {}, context)]
    raise CheckSpecError(f"cannot read check {show(spec)}")


def _parse_list(spec: list[Any], context: SpecContext) -> list[Check]:
    if not spec:
        raise CheckSpecError("an empty list of checks checks nothing")
    on_list = context.value_type.kind == "list"
    if on_list and not all(isinstance(item, Mapping) for item in spec):
        raise CheckSpecError(_LIST_HINT)
    checks: list[Check] = []
    for item in spec:
        if isinstance(item, list):
            raise CheckSpecError("a list of checks cannot contain another list")
        try:
            checks.extend(parse_spec(item, context))
        except CheckSpecError as exc:
            raise CheckSpecError(f"{exc} ({_LIST_HINT})" if on_list else str(exc)) from exc
    return checks


def _parse_mapping(spec: Mapping[Any, Any], context: SpecContext) -> Check:
    named = [key for key in spec if key in _BUILTINS or key in context.custom]
    if len(named) > 1:
        raise CheckSpecError(f"one check per mapping, got {sorted(named)}; list several as [{{...}}, {{...}}]")
    if not named:
        raise CheckSpecError(_unknown(spec, context))
    (name,) = named
    options = {str(key): value for key, value in spec.items() if key != name}
    allowed = _OPTIONS.get(name, frozenset())
    unknown = sorted(set(options) - allowed)
    if unknown:
        takes = f"only {', '.join(repr(k) for k in sorted(allowed))}" if allowed else "no other key"
        raise CheckSpecError(f"{name} takes {takes} besides its argument, not {unknown}")
    if name in _BUILTINS:
        return _BUILTINS[name](spec[name], options, context)
    return custom_check(name, context.custom[name], spec[name])


def _unknown(spec: Mapping[Any, Any], context: SpecContext) -> str:
    known = ", ".join((*CHECK_NAMES, *context.custom))
    keys = sorted(str(key) for key in spec)
    if len(keys) == 1:
        message = f"unknown check {keys[0]!r}; known checks: {known}"
    else:
        message = f"a check is one of {known}; got keys {keys}"
    if context.value_type.kind == "mapping":
        message += "; to expect a mapping itself write {equals: {...}}"
    return message


def custom_check(name: str, factory: CheckFactory, argument: Any) -> Check:
    """Call the factory with the argument once; the check it gives never raises when applied."""
    try:
        decide = factory(argument)
    except ValueError as exc:
        raise CheckSpecError(f"check {name!r} rejects {show(argument)}: {exc}") from exc
    except Exception as exc:
        raise CheckSpecError(f"check {name!r} failed on {show(argument)}: {type(exc).__name__}: {exc}") from exc
    if not callable(decide):
        raise CheckSpecError(f"check {name!r} gave {show(decide)} for {show(argument)}, not a function of the value")

    def apply(actual: Any) -> CheckOutcome:
        try:
            verdict = decide(actual)
        except Exception as exc:  # a custom check's bug fails that check, never the run
            return CheckOutcome(name, False, f"{name} raised {type(exc).__name__}: {exc}")
        return _outcome(name, verdict, actual)

    return Check(name, argument, apply)


def _outcome(name: str, verdict: Any, actual: Any) -> CheckOutcome:
    if isinstance(verdict, bool):
        return CheckOutcome(name, verdict, f"{name} {'passed' if verdict else 'failed'} on {show(actual)}")
    if isinstance(verdict, tuple) and len(verdict) == 2 and isinstance(verdict[0], bool):
        return CheckOutcome(name, verdict[0], str(verdict[1]))
    return CheckOutcome(name, False, f"{name} returned {show(verdict)}; a check returns a bool or (bool, reason)")


def run_checks(checks: Sequence[Check], actual: Any) -> list[CheckOutcome]:
    """Apply every check to the actual value."""
    return [check.apply(actual) for check in checks]
