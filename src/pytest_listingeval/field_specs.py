"""Read one `expected` entry (a field path and its spec) into checks, as a case file and the gate's re-scoring do.

With the output model the path is validated, its type picks how bare values compare, and
every value the case names must be valid for that type; without one (re-scoring a stored
run outside pytest) any path is accepted and values compare by what they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from pytest_listingeval.check_model import Check, CheckFactory, CheckSpecError, SpecContext
from pytest_listingeval.check_types import ANY, ValueType
from pytest_listingeval.checks import parse_spec
from pytest_listingeval.comparing import is_number, show
from pytest_listingeval.custom_checks import CheckRegistryError, installed_checks
from pytest_listingeval.paths import parse_path, path_type
from pytest_listingeval.plain import jsonable


@dataclass
class SpecReader:
    """Reads expected entries into checks against one output model (or none) and one set of custom checks."""

    output_model: type[BaseModel] | None = None
    custom: Mapping[str, CheckFactory] = field(default_factory=dict)
    _read: dict[tuple[str, str], list[Check]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def checks(self, path: str, spec: Any) -> list[Check]:
        """The checks of one entry; CheckSpecError (paths.PathError for the path) when it cannot be read."""
        value_type = ANY
        if self.output_model is not None:
            value_type = path_type(self.output_model, path)
        else:
            parse_path(path)
        checks = parse_spec(spec, SpecContext(value_type, self.custom))
        _validate(checks, value_type)
        return checks

    def checks_once(self, path: str, spec: Any) -> list[Check]:
        """`checks`, read once per distinct (path, spec): re-scoring many cases calls each factory once."""
        key = (path, repr(jsonable(spec)))
        if key not in self._read:
            self._read[key] = self.checks(path, spec)
        return self._read[key]


def offline_reader() -> SpecReader:
    """A reader without an output model, knowing the custom checks installed packages register."""
    try:
        return SpecReader(None, installed_checks())
    except CheckRegistryError:
        return SpecReader(None, {})


def _validate(checks: Iterable[Check], value_type: ValueType) -> None:
    """Every value a check names must be one the field's type allows (an enum member, a valid date...)."""
    for check in checks:
        _validate_values(check.values, value_type)
        _validate_values(check.item_values, value_type.items)
        _validate(check.item_checks, value_type.items)


def _validate_values(values: Iterable[Any], value_type: ValueType) -> None:
    if value_type.annotation is Any:
        return
    adapter = _adapter(value_type.annotation)
    for value in values:
        # pydantic's lax mode takes True for 1 and 1 for True; a case meaning one never means the other.
        if isinstance(value, bool) and value_type.kind == "number":
            raise CheckSpecError(f"value {value} is not allowed: a bool is not a number")
        if is_number(value) and value_type.kind == "bool":
            raise CheckSpecError(f"value {value} is not allowed: a number is not a bool")
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in first["loc"])
            inside = f"{show(first['input'])} at {where}: " if where else ""
            raise CheckSpecError(f"value {show(value)} is not allowed: {inside}{first['msg']}") from exc


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    """One validator per annotation, shared by every case (building one costs ~0.1 ms)."""
    try:
        return _cached_adapter(annotation)
    except TypeError:  # an unhashable annotation (metadata inside Annotated) cannot be cached
        return TypeAdapter(annotation)


@lru_cache(maxsize=512)
def _cached_adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)
