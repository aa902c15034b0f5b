"""A tmp project whose task answers with a typed invoice: numbers, a date, lists, a nested model, Optional, Literal.

The task is the generic one of harness_support with its output model swapped, so cassettes,
prompts and answers work the same way (no tests here: shared builders).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.plugin.harness_support import FAKE_TASK, GenericProject

_INSTRUMENT = """class Instrument(BaseModel):
    name: str
    kind: Kind
    maker: str | None = None
    blurb: str = ""
"""
_INVOICE = """from datetime import date
from typing import Literal


class LineItem(BaseModel):
    name: str
    price: float
    qty: int = 1


class Shop(BaseModel):
    city: str
    country: str | None = None


class Invoice(BaseModel):
    total: float
    item_count: int
    issued: date
    status: Literal["paid", "open", "void"]
    tags: list[str] = []
    flags: list[Literal["fragile", "gift"]] = []
    line_items: list[LineItem] = []
    shop: Shop | None = None
    note: str | None = None


Instrument = Invoice
"""
assert _INSTRUMENT in FAKE_TASK, "harness_support's task changed: update the model this project swaps"
TYPED_TASK = FAKE_TASK.replace(_INSTRUMENT, _INVOICE)


class TypedProject(GenericProject):
    """A GenericProject whose task's output model is Invoice."""

    def __init__(self, pytester: pytest.Pytester, extra_settings: str = "", markers: bool = True) -> None:
        super().__init__(pytester, extra_settings, markers)
        (self.path / "fake_task.py").write_text(TYPED_TASK, encoding="utf-8")

    def write_raw_case(self, case_id: str, expected_yaml: str, answer: dict[str, Any]) -> None:
        """A case whose `expected:` block is YAML text as a person writes it (unquoted dates, lists)."""
        self.add(case_id, {"total": 1}, answer)
        path = self.path / "cases" / f"{case_id}.yaml"
        image = path.read_text(encoding="utf-8").splitlines()[0]
        path.write_text(f"{image}\nexpected:\n{expected_yaml}", encoding="utf-8")


def invoice(**changes: Any) -> dict[str, Any]:
    """An answer of the typed task (what model_dump(mode='json') would give), with some fields changed."""
    answer: dict[str, Any] = {
        "total": 101.0,
        "item_count": 3,
        "issued": "2024-03-05",
        "status": "paid",
        "tags": ["violin", "Bow"],
        "flags": ["fragile"],
        "line_items": [{"name": "Bow", "price": 20.5, "qty": 1}, {"name": "Case", "price": 80.5, "qty": 2}],
        "shop": {"city": "Paris", "country": None},
        "note": None,
    }
    return {**answer, **changes}
