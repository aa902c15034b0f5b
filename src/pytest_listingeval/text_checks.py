"""Checks on text: needles (items, on a list), a regex, fuzzy similarity, a maximum length."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from rapidfuzz import fuzz

from pytest_listingeval.check_model import Check, CheckOutcome, CheckSpecError, SpecContext
from pytest_listingeval.comparing import as_text, compare, describe, is_list, normalise, show
from pytest_listingeval.value_checks import non_empty_list

DEFAULT_SIMILARITY = 0.8


def _is_text(value: Any) -> bool:
    return not is_list(value) and not isinstance(value, Mapping)


def contains(name: str, argument: Any, require_all: bool, context: SpecContext) -> Check:
    """Needles found in the text (normalised substrings) or, on a list, among its items (type-aware equality)."""
    needles = non_empty_list(name, argument)
    normalised = [normalise(n) for n in needles]
    items = context.value_type.items

    def apply(actual: Any) -> CheckOutcome:
        if actual is None or isinstance(actual, Mapping):
            return CheckOutcome(name, False, f"{name} applies to text or a list, got {describe(actual)}")
        if is_list(actual):
            found = [n for n in needles if any(compare(n, item, items).passed for item in actual)]
            where = "among the items"
        else:
            text = normalise(as_text(actual))
            found = [n for n, want in zip(needles, normalised, strict=True) if want in text]
            where = "in the text"
        missing = [n for n in needles if n not in found]
        if require_all:
            passed, detail = not missing, f"missing {show(missing)} {where}"
        else:
            passed, detail = bool(found), f"none of {show(needles)} found {where}"
        return CheckOutcome(name, passed, f"found {show(found)} {where}" if passed else detail)

    list_field = context.value_type.kind == "list"
    return Check(name, needles, apply, item_values=tuple(needles) if list_field else ())


def contains_all(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """Every needle is found."""
    return contains("contains_all", argument, True, context)


def contains_any(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """At least one needle is found."""
    return contains("contains_any", argument, False, context)


def _not_text(name: str, actual: Any, hint: str = "") -> CheckOutcome:
    return CheckOutcome(name, False, f"{name} applies to text, got {describe(actual)}{hint}")


def regex(pattern: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """`re.search(pattern, text, re.IGNORECASE)` finds a match in the raw (not normalised) text."""
    if not isinstance(pattern, str):
        raise CheckSpecError(f"regex needs a string pattern, got {show(pattern)}")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise CheckSpecError(f"regex {pattern!r} does not compile: {exc}") from exc

    def apply(actual: Any) -> CheckOutcome:
        if not _is_text(actual):
            return _not_text("regex", actual, "; use {each: {regex: ...}} for the items of a list")
        got = as_text(actual)
        found = compiled.search(got) if got is not None else None
        if found is None:
            return CheckOutcome("regex", False, f"/{pattern}/ finds no match in {show(actual)}")
        return CheckOutcome("regex", True, f"/{pattern}/ matches {found.group()!r} in {show(actual)}")

    return Check("regex", pattern, apply)


def similar_to(reference: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """rapidfuzz's ratio of the normalised texts, 0..1, is at least `min`."""
    minimum = options.get("min", DEFAULT_SIMILARITY)
    if not isinstance(reference, str):
        raise CheckSpecError(f"similar_to needs a string, got {show(reference)}")
    if not isinstance(minimum, int | float) or isinstance(minimum, bool) or not 0 <= minimum <= 1:
        raise CheckSpecError(f"similar_to min must be a number between 0 and 1, got {show(minimum)}")
    want = normalise(reference)

    def apply(actual: Any) -> CheckOutcome:
        if not _is_text(actual):
            return _not_text("similar_to", actual)
        got = as_text(actual)
        similarity = 0.0 if got is None else round(fuzz.ratio(normalise(got), want) / 100.0, 4)
        passed = similarity >= minimum
        verdict = f"at least {minimum}" if passed else f"below {minimum}"
        return CheckOutcome("similar_to", passed, f"similarity {similarity:.2f}, {verdict}", similarity)

    return Check("similar_to", {"text": reference, "min": minimum}, apply)


def max_len(limit: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The text has at most N characters (null counts as empty); on anything but text it fails."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise CheckSpecError(f"max_len needs a non-negative integer, got {show(limit)}")

    def apply(actual: Any) -> CheckOutcome:
        if actual is not None and not isinstance(actual, str | Enum):
            return _not_text("max_len", actual, "; use max_items for lists" if is_list(actual) else "")
        length = len(as_text(actual) or "")
        verdict = f"at most {limit}" if length <= limit else f"more than {limit}"
        return CheckOutcome("max_len", length <= limit, f"{length} characters, {verdict}")

    return Check("max_len", limit, apply)
