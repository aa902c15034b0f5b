"""The check problems users reported, one test each, through the public names other modules use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pytest_listingeval.checks import parse_spec, run_checks


def _run(spec: Any, actual: Any) -> list[tuple[str, bool, str]]:
    return [(o.check, o.passed, o.detail) for o in run_checks(parse_spec(spec), actual)]


def test_a_whole_number_equals_its_float() -> None:
    """`total: 101` against 101.0, and `item_count: 3.0` against 3, were mismatches (text compared)."""
    assert _run(101, 101.0) == [("equals", True, "101.0 equals 101 as a number")]
    assert _run(3.0, 3) == [("equals", True, "3 equals 3.0 as a number")]


def test_an_unquoted_yaml_date_is_a_check() -> None:
    """`date: 2024-03-05` (PyYAML gives a date) stopped collection; it compares as a date now."""
    assert _run(dt.date(2024, 3, 5), "2024-03-05") == [("equals", True, "'2024-03-05' is 2024-03-05 as a date")]


def test_a_list_can_be_expected() -> None:
    """A YAML list means 'all these checks'; {equals: [...]} and {unordered: [...]} expect a list."""
    assert _run({"equals": ["violin", "bow"]}, ["Violin", "bow"])[0][1] is True
    assert _run({"unordered": ["violin", "bow"]}, ["bow", "violin"])[0][1] is True


def test_max_len_on_a_list_does_not_count_characters_of_its_text_form() -> None:
    """It passed on any short list; now it fails saying max_len is for text."""
    assert _run({"max_len": 100}, ["a", "b"]) == [
        ("max_len", False, "max_len applies to text, got a list of 2 items; use max_items for lists")
    ]


def test_contains_any_on_a_list_or_mapping_and_its_reason_on_a_pass() -> None:
    """It matched substrings of the list's and the dict's text form (key names too) and said 'none found' on a pass."""
    assert _run({"contains_any": ["violin"]}, ["violin bow"]) == [
        ("contains_any", False, "none of ['violin'] found among the items")
    ]
    assert _run({"contains_any": ["colour"]}, {"colour": "red"}) == [
        ("contains_any", False, "contains_any applies to text or a list, got a mapping with keys ['colour']")
    ]
    assert _run({"contains_any": ["fiddle", "violin"]}, "a violin") == [
        ("contains_any", True, "found ['violin'] in the text")
    ]
