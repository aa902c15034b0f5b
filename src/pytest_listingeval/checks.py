"""The checks of a case file: parse a field's expected value and score an actual value."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from rapidfuzz import fuzz

_WHITESPACE = re.compile(r"\s+")
DEFAULT_SIMILARITY = 0.8


class CheckSpecError(ValueError):
    """A check in a case file is malformed; the message says how."""


def normalise(value: Any) -> str:
    """NFKC, casefold, trim, collapse inner whitespace; enum members by value."""
    if isinstance(value, Enum):
        value = value.value
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def _as_text(actual: Any) -> str | None:
    if actual is None:
        return None
    if isinstance(actual, Enum):
        return str(actual.value)
    return str(actual)


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check on one value."""

    check: str
    passed: bool
    detail: str
    similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "check": self.check,
            "passed": self.passed,
            "detail": self.detail,
            "similarity": self.similarity,
        }


@dataclass(frozen=True)
class Check:
    """One parsed check: a name, its argument and the function that applies it."""

    name: str
    argument: Any
    apply: Callable[[Any], CheckOutcome] = field(compare=False, repr=False)


def _equals(expected: Any) -> Check:
    want = normalise(expected)

    def apply(actual: Any) -> CheckOutcome:
        got = _as_text(actual)
        passed = got is not None and normalise(got) == want
        return CheckOutcome("equals", passed, f"expected {expected!r}, got {actual!r}")

    return Check("equals", expected, apply)


def _is_null(_: Any = None) -> Check:
    def apply(actual: Any) -> CheckOutcome:
        got = _as_text(actual)
        passed = got is None or got.strip() == ""
        return CheckOutcome("null", passed, f"expected null or empty, got {actual!r}")

    return Check("null", None, apply)


def _any_of(options: Any) -> Check:
    values = _non_empty_list("any_of", options)
    wants = [None if v is None else normalise(v) for v in values]

    def apply(actual: Any) -> CheckOutcome:
        got = _as_text(actual)
        passed = None in wants if got is None or got.strip() == "" else normalise(got) in wants
        return CheckOutcome("any_of", passed, f"expected one of {values!r}, got {actual!r}")

    return Check("any_of", values, apply)


def _contains(name: str, needles_spec: Any, require_all: bool) -> Check:
    needles = [normalise(n) for n in _non_empty_list(name, needles_spec)]

    def apply(actual: Any) -> CheckOutcome:
        got = _as_text(actual)
        haystack = normalise(got) if got is not None else ""
        found = [n for n in needles if n in haystack]
        missing = [n for n in needles if n not in haystack]
        passed = got is not None and (not missing if require_all else bool(found))
        detail = f"missing {missing!r}" if require_all else f"none of {needles!r} found"
        return CheckOutcome(name, passed, "all found" if passed and require_all else detail)

    return Check(name, needles, apply)


def _regex(pattern: Any) -> Check:
    if not isinstance(pattern, str):
        raise CheckSpecError(f"regex needs a string pattern, got {pattern!r}")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise CheckSpecError(f"regex {pattern!r} does not compile: {exc}") from exc

    def apply(actual: Any) -> CheckOutcome:
        got = _as_text(actual)
        passed = got is not None and compiled.search(got) is not None
        return CheckOutcome("regex", passed, f"/{pattern}/ on {actual!r}")

    return Check("regex", pattern, apply)


def _similar_to(reference: Any, minimum: Any) -> Check:
    if not isinstance(reference, str):
        raise CheckSpecError(f"similar_to needs a string, got {reference!r}")
    if not isinstance(minimum, int | float) or isinstance(minimum, bool) or not 0 <= minimum <= 1:
        raise CheckSpecError(f"similar_to min must be a number between 0 and 1, got {minimum!r}")
    want = normalise(reference)

    def apply(actual: Any) -> CheckOutcome:
        got = _as_text(actual)
        similarity = 0.0 if got is None else round(fuzz.ratio(normalise(got), want) / 100.0, 4)
        passed = similarity >= minimum
        return CheckOutcome("similar_to", passed, f"similarity {similarity:.2f} (min {minimum})", similarity)

    return Check("similar_to", {"text": reference, "min": minimum}, apply)


def _max_len(limit: Any) -> Check:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise CheckSpecError(f"max_len needs a non-negative integer, got {limit!r}")

    def apply(actual: Any) -> CheckOutcome:
        length = len(_as_text(actual) or "")
        return CheckOutcome("max_len", length <= limit, f"length {length} (max {limit})")

    return Check("max_len", limit, apply)


def _judge(rubric: Any) -> Check:
    if not isinstance(rubric, str) or not rubric.strip():
        raise CheckSpecError(f"judge needs a rubric text, got {rubric!r}")

    def apply(actual: Any) -> CheckOutcome:
        # The runner routes judge checks to the task's judge; this only runs without one.
        return CheckOutcome("judge", False, "judge checks need a task with a judge")

    return Check("judge", rubric, apply)


def _non_empty_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise CheckSpecError(f"{name} needs a non-empty list, got {value!r}")
    return value


_SINGLE_KEY: dict[str, Callable[[Any], Check]] = {
    "any_of": _any_of,
    "contains_all": lambda v: _contains("contains_all", v, require_all=True),
    "contains_any": lambda v: _contains("contains_any", v, require_all=False),
    "regex": _regex,
    "max_len": _max_len,
    "judge": _judge,
}
CHECK_NAMES = (*_SINGLE_KEY, "similar_to")


def parse_spec(spec: Any, extra: dict[str, Callable[[dict[str, Any]], Check]] | None = None) -> list[Check]:
    """Parse one field's expected value into the checks that must all pass."""
    if isinstance(spec, list):
        if not spec:
            raise CheckSpecError("an empty list of checks checks nothing")
        checks: list[Check] = []
        for item in spec:
            if isinstance(item, list):
                raise CheckSpecError("a list of checks cannot contain another list")
            checks.extend(parse_spec(item, extra))
        return checks
    if spec is None:
        return [_is_null()]
    if isinstance(spec, dict):
        return [_parse_mapping(spec, extra or {})]
    if isinstance(spec, str | int | float | bool):
        return [_equals(spec)]
    raise CheckSpecError(f"cannot read check {spec!r}")


def _parse_mapping(spec: dict[str, Any], extra: dict[str, Callable[[dict[str, Any]], Check]]) -> Check:
    keys = set(spec)
    if "similar_to" in keys:
        unknown = keys - {"similar_to", "min"}
        if unknown:
            raise CheckSpecError(f"similar_to takes only 'min' besides the text, not {sorted(unknown)}")
        return _similar_to(spec["similar_to"], spec.get("min", DEFAULT_SIMILARITY))
    for name, factory in extra.items():
        if name in keys:
            return factory(spec)
    if len(keys) != 1:
        raise CheckSpecError(f"a check is one of {', '.join(CHECK_NAMES)}; got keys {sorted(keys)}")
    (name,) = keys
    if name not in _SINGLE_KEY:
        known = ", ".join((*CHECK_NAMES, *extra))
        raise CheckSpecError(f"unknown check {name!r}; known checks: {known}")
    return _SINGLE_KEY[name](spec[name])


def run_checks(checks: Sequence[Check], actual: Any) -> list[CheckOutcome]:
    """Apply every check to the actual value."""
    return [check.apply(actual) for check in checks]
