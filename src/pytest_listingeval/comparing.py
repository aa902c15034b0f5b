"""Type-aware equality of an expected and an actual value, with the reason it holds or not.

Text compares after normalising, numbers as numbers, dates and datetimes as such, lists item
by item and mappings key by key; the field's ValueType decides where the value alone cannot
(a quoted "3" on an int field is a number, on a str field text).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pytest_listingeval.check_types import ANY, Kind, ValueType

_WHITESPACE = re.compile(r"\s+")
_SHOWN_CHARS = 120


@dataclass(frozen=True)
class Match:
    """Whether two values are equal, and why (said both ways)."""

    passed: bool
    reason: str


def normalise(value: Any) -> str:
    """NFKC, casefold, trim, collapse inner whitespace; enum members by value."""
    if isinstance(value, Enum):
        value = value.value
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def as_text(value: Any) -> str | None:
    """The value as text for text checks (enum members by value), None for null."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def is_blank(value: Any) -> bool:
    """Null, or a string of nothing but whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def is_list(value: Any) -> bool:
    """A JSON array (a list or tuple), not text."""
    return isinstance(value, list | tuple)


def show(value: Any) -> str:
    """A value as a reason quotes it: text quoted, numbers and dates plain, long values cut."""
    if value is None:
        text = "null"
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, Decimal | Enum):
        text = str(value.value if isinstance(value, Enum) else value)
    else:
        text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "\u2026"


def describe(value: Any) -> str:
    """What a value is, for a reason saying a check does not apply to it."""
    if is_list(value):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, Mapping):
        return f"a mapping with keys {show(sorted(str(k) for k in value))}"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, int | float | Decimal):
        return f"the number {show(value)}"
    return show(value)


def to_number(value: Any) -> Decimal | None:
    """A number (not a bool) or numeric text as an exact Decimal; None when it is not one.

    Floats go through their shortest repr, so 101.01 is 101.01 and not its binary expansion.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(normalise(value))
        except InvalidOperation:
            return None
    else:
        return None
    return None if number.is_nan() else number


def is_number(value: Any) -> bool:
    """An int, float or Decimal that is not a bool."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


_PARSED_AS: dict[Kind, type] = {"date": dt.date, "datetime": dt.datetime, "bool": bool}


@cache
def _parser(kind: Kind) -> TypeAdapter[Any]:
    """pydantic's lax parsing of dates, datetimes and bools, as the output model itself would parse them."""
    return TypeAdapter(_PARSED_AS[kind])


def to_date(value: Any, kind: Kind) -> dt.date | None:
    """ISO text, a date or a datetime as a date (kind "date") or datetime (kind "datetime"); else None."""
    if not isinstance(value, str | dt.date):
        return None
    try:
        parsed: dt.date = _parser(kind).validate_python(value)
    except ValidationError:
        return None
    return parsed


def to_bool(value: Any) -> bool | None:
    """A bool, or text a bool field accepts ('true', 'no', ...), as a bool; else None."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed: bool = _parser("bool").validate_python(value)
    except ValidationError:
        return None
    return parsed


def kind_to_compare(expected: Any, value_type: ValueType) -> Kind:
    """How `expected` compares: the field's kind, or what the value is when the field says nothing."""
    if value_type.kind == "list" or is_list(expected):
        return "list"
    if isinstance(expected, Mapping):
        return "mapping"
    if isinstance(expected, bool) or value_type.kind == "bool":
        return "bool"
    if is_number(expected) or value_type.kind == "number":
        return "number"
    if isinstance(expected, dt.datetime) or value_type.kind == "datetime":
        return "datetime"
    if isinstance(expected, dt.date) or value_type.kind == "date":
        return "date"
    return "text"


def compare(expected: Any, actual: Any, value_type: ValueType = ANY) -> Match:
    """Whether `actual` equals `expected` for a field of `value_type`, and why."""
    if expected is None:
        if is_blank(actual):
            return Match(True, f"{show(actual)} counts as null")
        return Match(False, f"expected null, got {show(actual)}")
    kind = kind_to_compare(expected, value_type)
    if kind == "list":
        return _compare_lists(expected, actual, value_type.items)
    if kind == "mapping":
        return _compare_mappings(expected, actual, value_type)
    if kind == "bool" and (flag := to_bool(expected)) is not None:
        return _compare_bools(flag, actual)
    if kind == "number" and (want := to_number(expected)) is not None:
        return _compare_numbers(want, actual)
    if kind in ("date", "datetime") and (when := to_date(expected, kind)) is not None:
        return _compare_dates(when, actual, kind)
    return _compare_texts(expected, actual)


def _compare_texts(expected: Any, actual: Any) -> Match:
    got = as_text(actual)
    if got is None or is_list(actual) or isinstance(actual, Mapping):
        return Match(False, f"expected {show(expected)}, got {describe(actual)}")
    if normalise(got) != normalise(expected):
        return Match(False, f"expected {show(expected)}, got {show(actual)}")
    how = "" if got == str(as_text(expected)) else " after normalising"
    return Match(True, f"{show(actual)} equals {show(expected)}{how}")


def _compare_bools(expected: bool, actual: Any) -> Match:
    if isinstance(actual, bool):
        passed = actual is expected
    elif isinstance(actual, str):
        passed = normalise(actual) == normalise(expected)
    else:
        return Match(False, f"expected {expected}, got {describe(actual)}, not a bool")
    return Match(passed, f"{show(actual)} {'is' if passed else 'is not'} {expected}")


def _compare_numbers(expected: Decimal, actual: Any) -> Match:
    got = to_number(actual)
    if got is None:
        return Match(False, f"expected the number {expected}, got {describe(actual)}, not a number")
    if got == expected:
        return Match(True, f"{show(actual)} equals {expected} as a number")
    return Match(False, f"expected {expected}, got {show(actual)}")


def _compare_dates(expected: dt.date, actual: Any, kind: Kind) -> Match:
    got = to_date(actual, kind)
    noun = "a datetime" if kind == "datetime" else "a date"
    if got is None:
        return Match(False, f"expected {noun} {show(expected)}, got {describe(actual)}, not {noun}")
    if got == expected:
        return Match(True, f"{show(actual)} is {show(expected)} as {noun}")
    note = ""
    if _naive(got) != _naive(expected):
        note = " (one has a time zone, the other has none)"
    return Match(False, f"expected {show(expected)}, got {show(actual)}{note}")


def _naive(when: dt.date) -> bool | None:
    """Whether a datetime has no time zone (None for a date, which has no time)."""
    return when.tzinfo is None if isinstance(when, dt.datetime) else None


def _compare_lists(expected: Any, actual: Any, items: ValueType) -> Match:
    if not is_list(expected):
        return Match(False, f"expected {show(expected)}, but the field is a list: expect a list")
    if not is_list(actual):
        return Match(False, f"expected a list of {len(expected)} items, got {describe(actual)}")
    if len(expected) != len(actual):
        return Match(False, f"expected {len(expected)} items, got {len(actual)}: {show(actual)}")
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        match = compare(want, got, items)
        if not match.passed:
            return Match(False, f"item [{index}]: {match.reason}")
    return Match(True, f"the same {len(expected)} items in the same order")


def _compare_mappings(expected: Mapping[Any, Any], actual: Any, value_type: ValueType) -> Match:
    if not isinstance(actual, Mapping):
        return Match(False, f"expected a mapping, got {describe(actual)}")
    want = {str(k): v for k, v in expected.items()}
    got = {str(k): v for k, v in actual.items()}
    missing, extra = sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys())
    if missing or extra:
        parts = ([f"missing keys {missing}"] if missing else []) + ([f"unexpected keys {extra}"] if extra else [])
        return Match(False, "; ".join(parts))
    for key in sorted(want):
        match = compare(want[key], got[key], value_type.field_type(key))
        if not match.passed:
            return Match(False, f"key {key!r}: {match.reason}")
    return Match(True, f"the same {len(want)} keys with equal values")


def match_unordered(expected: Sequence[Any], actual: Sequence[Any], items: ValueType) -> tuple[list[Any], list[Any]]:
    """Pair equal items regardless of order: (expected items left unmatched, actual items left over)."""
    left = list(actual)
    missing: list[Any] = []
    for want in expected:
        found = next((i for i, got in enumerate(left) if compare(want, got, items).passed), None)
        if found is None:
            missing.append(want)
        else:
            del left[found]
    return missing, left
