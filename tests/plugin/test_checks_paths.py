"""Nested field paths: parsed, validated against the output model, followed through an output."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from pytest_listingeval.check_types import value_type
from pytest_listingeval.checks import run_checks
from pytest_listingeval.field_specs import SpecReader
from pytest_listingeval.paths import EACH, PathError, parse_path, path_type, render, value_at


class Item(BaseModel):
    name: str
    price: Decimal
    kind: Literal["string", "bow", "case"] = "case"


class Address(BaseModel):
    city: str
    zip: str | None = None


class Order(BaseModel):
    total: float
    placed: dt.date
    tags: list[str] = []
    line_items: list[Item] = []
    address: Address | None = None
    attributes: dict[str, str] = {}
    extra: Any = None
    grid: list[list[int]] = []


OUTPUT: dict[str, Any] = {
    "total": 100.5,
    "placed": "2024-03-05",
    "tags": ["violin"],
    "line_items": [{"name": "Bow", "price": "20.50", "kind": "bow"}, {"name": "Case", "price": "80", "kind": "case"}],
    "address": {"city": "Paris", "zip": None},
    "attributes": {"colour": "brown"},
    "extra": {"deep": [1, 2]},
    "grid": [[1, 2], [3]],
}


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("total", ("total",)),
        ("address.city", ("address", "city")),
        ("line_items[0].name", ("line_items", 0, "name")),
        ("line_items[*].price", ("line_items", EACH, "price")),
        ("grid[*][1]", ("grid", EACH, 1)),
    ],
)
def test_paths_parse_and_render_back(text: str, steps: tuple[Any, ...]) -> None:
    """Names, indexes and [*]; rendering gives the same text."""
    assert parse_path(text) == steps
    assert render(steps) == text


@pytest.mark.parametrize("text", ["", "a..b", "a.", ".a", "a[-1]", "a[x]", "a[0", "[0]", "a b", "a.1b"])
def test_malformed_paths_are_refused(text: str) -> None:
    """A path that is not names joined by dots with [N] or [*] is an error showing the form."""
    with pytest.raises(PathError, match=r"is malformed: write field names joined by '\.'"):
        parse_path(text)


@pytest.mark.parametrize(
    ("text", "kind", "item_kind"),
    [
        ("total", "number", None),
        ("address.city", "text", None),
        ("address.zip", "text", None),
        ("line_items[0].price", "number", None),
        ("line_items[*].price", "list", "number"),
        ("line_items[*].kind", "list", "text"),
        ("line_items", "list", "mapping"),
        ("attributes.colour", "text", None),
        ("extra.deep.anything", "any", None),
        ("grid[*][0]", "list", "number"),
    ],
)
def test_the_type_at_the_end_of_a_path(text: str, kind: str, item_kind: str | None) -> None:
    """The annotation the path leads to, a list of it under [*]."""
    found = path_type(Order, text)
    assert found.kind == kind
    if item_kind is not None:
        assert found.items.kind == item_kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("totl", "unknown field 'totl'; fields: total, placed, tags, line_items, address, attributes, extra, grid"),
        ("address.citty", "unknown field 'citty' in address; fields there: city, zip"),
        ("line_items[0].nme", "unknown field 'nme' in line_items[0]; fields there: name, price, kind"),
        ("line_items[*].cost", "unknown field 'cost' in line_items[*]; fields there: name, price, kind"),
        ("line_items.name", "line_items is a list: name an item as line_items[0] or every item as line_items[*]"),
        ("address[0]", "address is not a list, so address[0] does not exist"),
        ("total.cents", "total holds number values (float), which have no field 'cents'"),
    ],
)
def test_unknown_steps_name_the_path_and_what_exists_there(text: str, message: str) -> None:
    """An unknown segment: a PathError naming it and the valid names at that level."""
    with pytest.raises(PathError) as raised:
        path_type(Order, text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "value", "missing"),
    [
        ("address.city", "Paris", None),
        ("line_items[1].name", "Case", None),
        ("line_items[*].price", ["20.50", "80"], None),
        ("grid[*][1]", [2, None], None),
        ("line_items[3].name", None, "line_items has 2 items; line_items[3] does not exist"),
        ("tags[1]", None, "tags has 1 item; tags[1] does not exist"),
        ("address.zip", None, None),
        ("attributes.size", None, "the output has no attributes.size"),
        ("total.cents", None, "total is the number 100.5, which has no field 'cents'"),
        ("placed[0]", None, "placed is '2024-03-05', not a list"),
    ],
)
def test_following_a_path_through_an_output(text: str, value: Any, missing: str | None) -> None:
    """The value at the path; a step that is not there gives None and says why."""
    found = value_at(OUTPUT, text)
    assert found.value == value
    assert found.missing == missing


def test_a_null_intermediate_gives_null_and_says_so() -> None:
    """address: null makes address.city null; null passes, another check fails with the reason."""
    output = {**OUTPUT, "address": None}
    assert value_at(output, "address.city").missing == "address is null, so address.city does not exist"
    assert value_at({**OUTPUT, "line_items": None}, "line_items[*].name").value is None


def test_paths_read_with_the_type_at_their_end() -> None:
    """The type at the end of the path drives bare values and validates them (Literal inside each)."""
    reader = SpecReader(Order, {})
    prices = reader.checks("line_items[*].price", {"equals": [20.5, 80]})
    assert all(o.passed for o in run_checks(prices, value_at(OUTPUT, "line_items[*].price").value))
    assert reader.checks("line_items[0].price", "20.5")[0].apply("20.50").passed
    with pytest.raises(Exception, match="'tuba' is not allowed"):
        reader.checks("line_items[*].kind", {"each": {"any_of": ["bow", "tuba"]}})
    with pytest.raises(Exception, match=r"\{equals:"):
        reader.checks("line_items[*].kind", ["bow", "case"])


def test_without_a_model_any_path_is_read_and_values_compare_by_what_they_are() -> None:
    """Re-scoring outside pytest has no output model: paths are only parsed, numbers still compare as numbers."""
    reader = SpecReader(None, {})
    (check,) = reader.checks("anything.deep[0]", 101)
    assert check.apply(101.0).passed
    with pytest.raises(PathError):
        reader.checks("bad..path", 1)


def test_value_type_of_annotations() -> None:
    """Optional, unions of one kind, enums by their values' kind, nested lists."""
    assert value_type(int | None).kind == "number"
    assert value_type(int | float).kind == "number"
    assert value_type(int | str).kind == "any"
    assert value_type(Literal[1, 2]).kind == "number"
    assert value_type(Literal["a", 1]).kind == "any"
    assert value_type(bool).kind == "bool"
    assert value_type(dt.datetime).kind == "datetime"
    assert value_type(tuple[int, ...]).items.kind == "number"
    assert value_type(list[list[str]]).items.items.kind == "text"
    assert value_type(Address).field_type("city").kind == "text"
