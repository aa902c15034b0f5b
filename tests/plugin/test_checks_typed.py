"""Type-aware checks: bare values compare as the field's type says; tolerance, list checks, and their reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_listingeval.check_model import CheckSpecError
from tests.plugin.check_support import outcome, outcomes, passes


class Colour(StrEnum):
    red = "red"
    dark_blue = "dark blue"


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "spec", "actual"),
    [
        (float, 101, 101.0),  # a whole number against the float the model gave
        (int, 3.0, 3),  # a YAML float on an int field
        (int, "3", 3),  # a quoted number on an int field is a number
        (Decimal, "101.5", "101.50"),  # Decimal fields come back as text from model_dump(mode="json")
        (Decimal, 101.5, "101.50"),
        (float, 0.1, "0.10"),
        (Any, 7, "7.0"),  # a bare number on any field compares numerically
        (float | None, 2, 2.0),
    ],
)
def test_numbers_compare_numerically(annotation: Any, spec: Any, actual: Any) -> None:
    """101 == 101.0 and 3.0 == 3: the text forms differ, the numbers do not."""
    result = outcome(spec, actual, annotation)
    assert result.passed, result.detail
    assert "as a number" in result.detail


def test_a_number_mismatch_says_both_numbers() -> None:
    """A different number fails, naming what was expected and what came."""
    result = outcome(101, 102.0, float)
    assert not result.passed
    assert result.detail == "expected 101, got 102.0"


def test_quoted_numbers_on_a_text_field_stay_text() -> None:
    """On a str field "1.0" is not "1": strings compare as before, only numbers numerically."""
    assert not passes("1.0", "1", str)
    assert passes("1.0", " 1.0 ", str)


@pytest.mark.parametrize(("spec", "actual"), [(1, True), (0, False), (True, 1)])
def test_a_bool_is_not_a_number(spec: Any, actual: Any) -> None:
    """1 and True are different answers, whatever Python's int thinks."""
    result = outcome(spec, actual)
    assert not result.passed
    assert "not a number" in result.detail or "not a bool" in result.detail


@pytest.mark.parametrize(("annotation", "spec"), [(float, True), (int, False), (bool, 1), (bool, 0.0)])
def test_a_bool_on_a_number_field_is_rejected_when_read(annotation: Any, spec: Any) -> None:
    """pydantic would coerce these; a case saying `true` for a total is a mistake, so it does not load."""
    with pytest.raises(CheckSpecError, match=r"is not allowed: a (bool is not a number|number is not a bool)"):
        outcomes(spec, None, annotation)


def test_a_non_numeric_answer_fails_a_number_with_a_reason() -> None:
    """Text that is not a number, and null, fail a numeric expectation saying so."""
    assert outcome(101, "about 101", float).detail == "expected the number 101, got 'about 101', not a number"
    assert "got null" in outcome(101, None, float | None).detail


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "spec", "actual"),
    [
        (dt.date, dt.date(2024, 3, 5), "2024-03-05"),  # unquoted YAML date against the JSON text
        (dt.date, "2024-03-05", "2024-03-05"),
        (Any, dt.date(2024, 3, 5), "2024-03-05"),
        (dt.date | None, dt.date(2024, 3, 5), dt.date(2024, 3, 5)),
        (dt.datetime, "2024-03-05T10:00:00Z", "2024-03-05T11:00:00+01:00"),  # the same instant
        (dt.datetime, dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC), "2024-03-05 10:00:00+00:00"),
    ],
)
def test_dates_compare_as_dates(annotation: Any, spec: Any, actual: Any) -> None:
    """YAML dates and ISO text compare as dates (a datetime field as datetimes)."""
    result = outcome(spec, actual, annotation)
    assert result.passed, result.detail
    assert "as a date" in result.detail


def test_a_date_mismatch_and_a_time_zone_mismatch_fail_saying_why() -> None:
    """Another day fails; a datetime with a time zone is not one without."""
    assert outcome(dt.date(2024, 3, 5), "2024-03-06", dt.date).detail == "expected 2024-03-05, got '2024-03-06'"
    naive = outcome("2024-03-05T10:00:00", "2024-03-05T10:00:00Z", dt.datetime)
    assert not naive.passed
    assert "one has a time zone, the other has none" in naive.detail
    assert "not a date" in outcome(dt.date(2024, 3, 5), "March 5th", dt.date).detail


def test_null_is_null_or_blank_text_not_an_empty_list() -> None:
    """`null` keeps its meaning: None and blank text pass; an empty list is a value."""
    assert outcome(None, "  ", str).passed
    assert not outcome(None, [], list[str]).passed
    assert outcome(None, [], list[str]).detail == "expected null or empty, got a list of 0 items"


def test_text_on_a_number_field_is_rejected() -> None:
    """A value the field cannot hold is refused when read."""
    with pytest.raises(CheckSpecError, match="'about 101' is not allowed"):
        outcomes("about 101", None, float)


@pytest.mark.parametrize(("annotation", "spec"), [(dt.date, "2024-02-30"), (str, dt.date(2024, 3, 5))])
def test_an_impossible_date_or_a_date_on_a_text_field_is_rejected(annotation: Any, spec: Any) -> None:
    """The values a case names must be valid for the field, dates too."""
    with pytest.raises(CheckSpecError, match="is not allowed"):
        outcomes(spec, None, annotation)


# -- text, enums, bools (as before) ------------------------------------------------------------


def test_text_and_enums_compare_as_before() -> None:
    """Normalised text; an enum by its value, whether the task gives the member or the value."""
    assert outcome("dark blue", "Dark  Blue", Colour).passed
    assert outcome("dark blue", Colour.dark_blue, Colour).passed
    assert outcome("red", "red", Literal["red", "blue"]).detail == "'red' equals 'red'"
    assert outcome("RED", "red", str).detail == "'red' equals 'RED' after normalising"
    assert not outcome("red", "blue", Literal["red", "blue"]).passed


def test_bools_compare_as_bools() -> None:
    """True is True; text a bool field accepts ('yes') reads as a bool; 'true' text still matches as before."""
    assert outcome(True, True, bool).detail == "True is True"
    assert outcome("yes", True, bool).passed
    assert not outcome(True, False, bool).passed
    assert outcome(True, "TRUE").passed
    assert not outcome(True, "yes").passed


# -- lists -----------------------------------------------------------------------------------


def test_a_bare_list_on_a_list_field_is_refused_with_what_to_write() -> None:
    """A YAML list means 'all of these checks'; on a list field that is a trap, so it says what to write."""
    with pytest.raises(CheckSpecError) as raised:
        outcomes(["violin", "bow"], ["violin", "bow"], list[str])
    assert "{equals: [...]}" in str(raised.value) and "{unordered: [...]}" in str(raised.value)
    with pytest.raises(CheckSpecError, match=r"unknown check 'name'.*\{equals: \[\.\.\.\]\}"):
        outcomes([{"name": "bow"}], [{"name": "bow"}], list[dict[str, str]])


def test_a_list_of_checks_still_works_on_text_and_on_lists() -> None:
    """Elsewhere, and with mappings on a list field, a YAML list is still 'all of these checks'."""
    assert [o.check for o in outcomes([{"contains_any": ["violin"]}, {"max_len": 20}], "violin", str)] == [
        "contains_any",
        "max_len",
    ]
    assert passes([{"min_items": 1}, {"max_items": 2}], ["a", "b"], list[str])
    assert not passes([{"min_items": 1}, {"max_items": 2}], ["a", "b", "c"], list[str])


def test_equals_compares_lists_item_by_item_with_the_items_type() -> None:
    """Order matters; items compare as their type (numbers, normalised text, dates)."""
    assert outcome({"equals": ["Violin", "bow"]}, ["violin", "BOW"], list[str]).passed
    assert outcome({"equals": [1, 2.5]}, [1.0, "2.50"], list[float]).passed
    assert outcome({"equals": ["2024-03-05"]}, ["2024-03-05"], list[dt.date]).passed
    swapped = outcome({"equals": ["violin", "bow"]}, ["bow", "violin"], list[str])
    assert not swapped.passed and swapped.detail == "item [0]: expected 'violin', got 'bow'"
    assert outcome({"equals": ["a"]}, ["a", "b"], list[str]).detail.startswith("expected 1 items, got 2")


def test_equals_compares_mappings_key_by_key() -> None:
    """A mapping (or a nested model) equals when it has the same keys with equal values."""
    item = {"name": "Bow", "price": 10}
    assert outcome({"equals": item}, {"name": "bow", "price": 10.0}).passed
    extra = outcome({"equals": item}, {"name": "Bow", "price": 10, "qty": 1})
    assert not extra.passed and extra.detail == "unexpected keys ['qty']"
    assert outcome({"equals": item}, {"name": "Bow", "price": 11}).detail == "key 'price': expected 10, got 11"


def test_unordered_is_the_same_multiset() -> None:
    """Any order passes; a different count of an item fails, naming what is missing and what is extra."""
    assert outcome({"unordered": ["b", "A"]}, ["a", "B"], list[str]).detail == "the same 2 items in any order"
    result = outcome({"unordered": ["a", "a", "b"]}, ["a", "b", "b"], list[str])
    assert not result.passed and result.detail == "missing ['a']; unexpected ['b']"
    assert outcome({"unordered": []}, [], list[str]).passed
    assert "applies to a list" in outcome({"unordered": ["a"]}, "a").detail


@given(st.lists(st.sampled_from(["a", "b", "C", "d d", "1", "2.0"]), max_size=6), st.randoms())
def test_unordered_accepts_every_permutation_and_nothing_more(items: list[str], random: Any) -> None:
    """Property: a shuffled copy passes; one more item fails."""
    shuffled = list(items)
    random.shuffle(shuffled)
    assert outcome({"unordered": items}, shuffled).passed
    assert not outcome({"unordered": items}, [*shuffled, "extra"]).passed


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_integers_equal_their_float_and_text_forms(number: int) -> None:
    """Property: a whole number equals its float (when exact) and its text, and not its neighbour."""
    if abs(number) < 2**53:
        assert outcome(number, float(number)).passed
    assert outcome(number, str(number)).passed
    assert not outcome(number, number + 1).passed


def test_counts_of_items_and_characters() -> None:
    """length counts list items or characters; min_items and max_items only apply to lists."""
    assert outcome({"length": 2}, ["a", "b"], list[str]).detail == "2 items, as expected"
    assert outcome({"length": 6}, "violin", str).detail == "6 characters, as expected"
    assert outcome({"length": 3}, ["a"], list[str]).detail == "1 item, expected 3"
    assert outcome({"min_items": 1}, ["a", "b"], list[str]).detail == "2 items, at least 1"
    assert outcome({"max_items": 5}, ["a", "b", "c"], list[str]).detail == "3 items, at most 5"
    assert outcome({"max_items": 1}, ["a", "b"], list[str]).detail == "2 items, more than 1"
    assert outcome({"min_items": 3}, ["a"], list[str]).detail == "1 item, fewer than 3"
    assert outcome({"min_items": 1}, "abc").detail == "min_items applies to a list, got 'abc'"
    assert not outcome({"length": 1}, None, list[str] | None).passed


def test_each_checks_every_item() -> None:
    """Every item must pass; an empty list passes and says so; a non-list fails."""
    assert outcome({"each": {"regex": "^[a-z]+$"}}, ["violin", "bow"], list[str]).detail == "all 2 items pass regex"
    failed = outcome({"each": [{"min_items": 0}, {"approx": 10, "abs": 1}]}, [[1], [2]], list[Any])
    assert not failed.passed and "item [0]" in failed.detail
    priced = outcome({"each": {"approx": 10, "abs": 1}}, [10.5, 12, 9], list[float])
    assert not priced.passed
    assert priced.detail == "1 of 3 items fail; item [1] 12: approx: 12 is 2 away from 10, more than 1"
    empty = outcome({"each": "violin"}, [], list[str])
    assert empty.passed and "empty" in empty.detail
    assert outcome({"each": "violin"}, "violin").detail == "each applies to a list, got 'violin'"
    with pytest.raises(CheckSpecError, match="judge cannot run inside each"):
        outcomes({"each": {"judge": "a nice word"}}, [], list[str])


def test_max_len_applies_to_text_only() -> None:
    """On text as before (null counts as empty); on a list it fails pointing at max_items."""
    assert outcome({"max_len": 6}, "violin", str).detail == "6 characters, at most 6"
    assert outcome({"max_len": 0}, None, str | None).passed
    on_list = outcome({"max_len": 100}, ["a", "b"], list[str])
    assert not on_list.passed
    assert on_list.detail == "max_len applies to text, got a list of 2 items; use max_items for lists"
    assert not outcome({"max_len": 100}, 5, int).passed


def test_contains_on_a_list_is_membership_of_items() -> None:
    """On a list, needles are items (normalised), not substrings of the list's text form."""
    assert outcome({"contains_any": ["violin"]}, ["Violin", "bow"], list[str]).detail == (
        "found ['violin'] among the items"
    )
    assert not outcome({"contains_any": ["violin"]}, ["violin bow"], list[str]).passed
    assert not outcome({"contains_any": ["'"]}, ["a"], list[str]).passed  # the repr's quotes are not an item
    missing = outcome({"contains_all": ["violin", "case"]}, ["violin", "bow"], list[str])
    assert not missing.passed and missing.detail == "missing ['case'] among the items"
    assert outcome({"contains_all": [3, 4]}, [4.0, 3], list[float]).passed


def test_contains_on_a_mapping_fails_and_on_text_reports_what_it_found() -> None:
    """A mapping's key names are not its content; on text a pass says what it found, not 'none found'."""
    on_mapping = outcome({"contains_any": ["color"]}, {"color": "red"})
    assert not on_mapping.passed
    assert on_mapping.detail == "contains_any applies to text or a list, got a mapping with keys ['color']"
    found = outcome({"contains_any": ["fiddle", "violin"]}, "An old VIOLIN", str)
    assert found.passed and found.detail == "found ['violin'] in the text"
    assert outcome({"contains_all": ["violin", "bow"]}, "violin and bow", str).detail == (
        "found ['violin', 'bow'] in the text"
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"equals": ["violin", "tuba"]},
        {"any_of": [["violin"], ["tuba"]]},
        {"unordered": ["tuba"]},
        {"each": "tuba"},
        {"each": {"any_of": ["violin", "tuba"]}},
        {"contains_any": ["tuba"]},
    ],
)
def test_values_outside_a_literal_are_rejected_inside_every_check(spec: Any) -> None:
    """A case cannot expect what the output model forbids, however deep the value sits."""
    with pytest.raises(CheckSpecError, match="is not allowed") as raised:
        outcomes(spec, [], list[Literal["violin", "bow"]])
    assert "'tuba'" in str(raised.value) and "Input should be 'violin' or 'bow'" in str(raised.value)


# -- approx ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "actual", "passed"),
    [
        ({"approx": 101, "abs": 0.01}, 101.01, True),  # inclusive, also where float subtraction is not exact
        ({"approx": 101, "abs": 0.01}, 100.99, True),
        ({"approx": 101, "abs": 0.01}, 101.02, False),
        ({"approx": 100, "rel": 0.01}, 101.0, True),
        ({"approx": 100, "rel": 0.01}, 101.1, False),
        ({"approx": 100, "abs": 0.001, "rel": 0.02}, 102, True),  # either tolerance suffices
        ({"approx": 100, "abs": 5, "rel": 0.001}, 104, True),
        ({"approx": 100}, 100.00001, True),  # default rel 1e-6
        ({"approx": 100}, 100.001, False),
        ({"approx": 1000000, "abs": 0.1}, 1000000.5, False),  # abs alone: the default rel does not apply
        ({"approx": "101.5", "abs": 0}, "101.50", True),
    ],
)
def test_approx_tolerances(spec: dict[str, Any], actual: Any, passed: bool) -> None:
    """abs, rel, both (either suffices) and neither (rel 1e-6), inclusive, as pytest.approx."""
    result = outcome(spec, actual)
    assert result.passed is passed, result.detail


@given(
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
    st.none() | st.integers(0, 50),
    st.none() | st.sampled_from([0.0, 0.125, 0.25, 0.5]),
)
def test_approx_agrees_with_pytest_approx(
    target: int, actual: int, absolute: int | None, relative: float | None
) -> None:
    """Property: on exactly representable numbers the decision is pytest.approx's."""
    spec: dict[str, Any] = {"approx": target}
    if absolute is not None:
        spec["abs"] = absolute
    if relative is not None:
        spec["rel"] = relative
    assert outcome(spec, actual).passed is (actual == pytest.approx(target, abs=absolute, rel=relative))


def test_approx_says_why_both_ways() -> None:
    """The pass says it is within the tolerance; the fail says how far it is."""
    assert outcome({"approx": 101, "abs": 0.01}, 101.0).detail == "101.0 is within 0.01 of 101"
    assert outcome({"approx": 101, "abs": 0.01}, 101.5).detail == "101.5 is 0.5 away from 101, more than 0.01"


@pytest.mark.parametrize("actual", ["about 101", None, True, [101], {"v": 101}])
def test_approx_fails_on_anything_but_a_number(actual: Any) -> None:
    """Not a number: a failure naming what came instead."""
    result = outcome({"approx": 101, "abs": 1}, actual)
    assert not result.passed
    assert result.detail.startswith("expected a number near 101, got ")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"approx": "x"}, "approx needs a number"),
        ({"approx": True}, "approx needs a number"),
        ({"approx": 1, "abs": -1}, "approx abs must be a non-negative number"),
        ({"approx": 1, "rel": "a"}, "approx rel must be a non-negative number"),
        ({"approx": 1, "tol": 1}, "approx takes only 'abs', 'rel' besides its argument"),
        ({"length": -1}, "length needs a non-negative integer"),
        ({"max_items": "3"}, "max_items needs a non-negative integer"),
        ({"unordered": "a"}, "unordered needs a list"),
        ({"equals": 1, "min": 2}, "equals takes no other key"),
        ({"any_of": ["a"], "equals": "a"}, "one check per mapping"),
    ],
)
def test_malformed_checks_are_rejected(spec: dict[str, Any], message: str) -> None:
    """Each malformed check: CheckSpecError saying what is wrong."""
    with pytest.raises(CheckSpecError, match=message):
        outcomes(spec, None)


# -- every check says why it passed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "actual", "annotation", "detail"),
    [
        (None, "", str, "'' counts as null"),
        ("violin", "Violin", str, "'Violin' equals 'violin' after normalising"),
        (101, 101.0, float, "101.0 equals 101 as a number"),
        (dt.date(2024, 3, 5), "2024-03-05", dt.date, "'2024-03-05' is 2024-03-05 as a date"),
        ({"any_of": ["viola", "violin"]}, "violin", str, "option 'violin': 'violin' equals 'violin'"),
        ({"any_of": [None, "x"]}, None, str | None, "null counts as null, which is allowed by [None, 'x']"),
        ({"contains_any": ["fiddle", "violin"]}, "a violin", str, "found ['violin'] in the text"),
        ({"regex": "^vio"}, "violin", str, "/^vio/ matches 'vio' in 'violin'"),
        ({"similar_to": "violin"}, "violin", str, "similarity 1.00, at least 0.8"),
        ({"max_len": 10}, "violin", str, "6 characters, at most 10"),
        ({"approx": 101, "abs": 0.01}, 101.0, float, "101.0 is within 0.01 of 101"),
        ({"unordered": ["b", "a"]}, ["a", "b"], list[str], "the same 2 items in any order"),
        ({"max_items": 5}, ["a", "b", "c"], list[str], "3 items, at most 5"),
        ({"each": {"max_len": 3}}, ["a", "b"], list[str], "all 2 items pass max_len"),
    ],
)
def test_every_check_says_why_it_passed(spec: Any, actual: Any, annotation: Any, detail: str) -> None:
    """The pass reason is a true statement about the value, not the fail message reused."""
    result = outcome(spec, actual, annotation)
    assert result.passed
    assert result.detail == detail
