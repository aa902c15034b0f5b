"""Which fields get a confusion matrix: every enum (Literal or Enum) in the output schema, at any depth."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel

from pytest_listingeval.report.confusion import confusion, enum_fields
from pytest_listingeval.results import CaseResult, FieldScore


class Size(enum.StrEnum):
    small = "small"
    large = "large"


class Line(BaseModel):
    name: str
    unit: Literal["kg", "pcs"]
    size: Size | None = None


class Address(BaseModel):
    city: str
    country: Literal["FR", "DE"] | None


class Receipt(BaseModel):
    store: str
    currency: Literal["EUR", "USD"]
    paid_by: Literal["card"]
    size: Size
    maybe_size: Size | None
    total: float
    address: Address
    lines: list[Line]
    tags: list[str]


SCHEMA = Receipt.model_json_schema()


def test_enum_fields_top_level_nested_optional_and_in_lists() -> None:
    names = [
        "store",
        "currency",
        "paid_by",
        "size",
        "maybe_size",
        "total",
        "address.city",
        "address.country",
        "lines[0].unit",
        "lines[*].size",
        "lines[*].name",
        "tags",
        "nowhere.at_all",
    ]
    assert enum_fields(SCHEMA, names) == [
        "currency",
        "paid_by",
        "size",
        "maybe_size",
        "address.country",
        "lines[0].unit",
        "lines[*].size",
    ]


def test_no_schema_no_matrix() -> None:
    assert enum_fields({}, ["category"]) == []
    assert enum_fields({"type": "object"}, ["category"]) == []


def test_the_matrix_counts_expected_against_actual() -> None:
    def case(i: int, expected: str, actual: str | None) -> CaseResult:
        score = FieldScore(score=int(expected == actual), expected=expected, actual=actual)
        return CaseResult(id=f"c{i}", fields={"currency": score})

    cases = [case(0, "EUR", "EUR"), case(1, "EUR", "USD"), case(2, "USD", None), case(3, "USD", "USD")]
    matrix = confusion(cases, "currency")
    assert matrix is not None
    assert matrix.expected_labels == ("EUR", "USD")
    assert matrix.actual_labels == ("EUR", "USD", "(none)")
    assert (matrix.count("EUR", "USD"), matrix.count("USD", "(none)"), matrix.total) == (1, 1, 4)
