"""Checks on lists: the same items in any order, and how many items (or characters, for `length`) there are."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from pytest_listingeval.check_model import Check, CheckOutcome, CheckSpecError, SpecContext
from pytest_listingeval.comparing import as_text, describe, is_list, match_unordered, show


def _count(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckSpecError(f"{name} needs a non-negative integer, got {show(value)}")
    return value


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def unordered(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The actual list holds the same items as the expected one, each as often, in any order."""
    if not isinstance(argument, list):
        raise CheckSpecError(f"unordered needs a list, got {show(argument)}")
    items = context.value_type.items

    def apply(actual: Any) -> CheckOutcome:
        if not is_list(actual):
            return CheckOutcome("unordered", False, f"unordered applies to a list, got {describe(actual)}")
        missing, extra = match_unordered(argument, actual, items)
        if not missing and not extra:
            return CheckOutcome("unordered", True, f"the same {_items(len(argument))} in any order")
        parts = ([f"missing {show(missing)}"] if missing else []) + ([f"unexpected {show(extra)}"] if extra else [])
        return CheckOutcome("unordered", False, "; ".join(parts))

    return Check("unordered", argument, apply, values=(argument,))


def length(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """A list has exactly N items, a text exactly N characters."""
    want = _count("length", argument)

    def apply(actual: Any) -> CheckOutcome:
        if is_list(actual):
            got, unit = len(actual), _items(len(actual))
        elif isinstance(actual, str | Enum):
            got = len(as_text(actual) or "")
            unit = f"{got} characters"
        else:
            return CheckOutcome("length", False, f"length applies to a list or text, got {describe(actual)}")
        detail = f"{unit}, as expected" if got == want else f"{unit}, expected {want}"
        return CheckOutcome("length", got == want, detail)

    return Check("length", want, apply)


def _bound(name: str, argument: Any, holds: Callable[[int, int], bool], words: tuple[str, str]) -> Check:
    limit = _count(name, argument)

    def apply(actual: Any) -> CheckOutcome:
        if not is_list(actual):
            return CheckOutcome(name, False, f"{name} applies to a list, got {describe(actual)}")
        passed = holds(len(actual), limit)
        return CheckOutcome(name, passed, f"{_items(len(actual))}, {words[0] if passed else words[1]} {limit}")

    return Check(name, limit, apply)


def min_items(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The list has at least N items."""
    return _bound("min_items", argument, lambda n, limit: n >= limit, ("at least", "fewer than"))


def max_items(argument: Any, options: Mapping[str, Any], context: SpecContext) -> Check:
    """The list has at most N items."""
    return _bound("max_items", argument, lambda n, limit: n <= limit, ("at most", "more than"))
