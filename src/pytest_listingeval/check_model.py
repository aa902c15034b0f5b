"""The shapes every check shares: the parsed check, its outcome, and what parsing needs to know."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_listingeval.check_types import ANY, ValueType

# What a custom check registers: called once per use in a case file with the check's argument,
# it returns the function that judges an actual value (a bool, or a bool and a reason).
CheckFunction = Callable[[Any], "bool | tuple[bool, str]"]
CheckFactory = Callable[[Any], CheckFunction]


class CheckSpecError(ValueError):
    """A check in a case file is malformed; the message says how."""


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
    """One parsed check: a name, its argument and the function that applies it.

    `values` must be valid for the field's type and `item_values` for its items (a case
    cannot expect what the output model forbids); `item_checks` run on every item.
    """

    name: str
    argument: Any
    apply: Callable[[Any], CheckOutcome] = field(compare=False, repr=False)
    values: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    item_values: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    item_checks: tuple[Check, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class SpecContext:
    """What reading a field's checks needs: the field's type and the custom checks in use."""

    value_type: ValueType = ANY
    custom: Mapping[str, CheckFactory] = field(default_factory=dict)

    def for_items(self) -> SpecContext:
        """The context of a check applied to each item of this (list) field."""
        return SpecContext(self.value_type.items, self.custom)
