"""What kind of value a field holds, read from its annotation: it picks how a bare value compares."""

from __future__ import annotations

import collections.abc
import datetime as dt
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any, Literal, Union

from pydantic import BaseModel

Kind = Literal["any", "text", "number", "bool", "date", "datetime", "list", "mapping"]
_NUMBER_CLASSES = (int, float, Decimal, Fraction)


@dataclass(frozen=True)
class ValueType:
    """A field's kind, its annotation (to validate values a case names) and, for containers, what they hold."""

    kind: Kind
    annotation: Any = Any
    item: ValueType | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> ValueType:
        """The type of a list's items or a mapping's values (anything when unknown)."""
        return self.item or ANY

    def field_type(self, key: str) -> ValueType:
        """The type under `key` of a model (its field) or a mapping (its value type)."""
        if key in self.fields:
            return value_type(self.fields[key])
        return self.items


ANY = ValueType("any")


def strip_optional(annotation: Any) -> Any:
    """The annotation without `Annotated[...]` metadata and without `None` in a union of one other type."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if is_union(annotation):
        others = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(others) == 1:
            return strip_optional(others[0])
    return annotation


def is_union(annotation: Any) -> bool:
    """True for `X | Y` and `Union[X, Y]`."""
    return typing.get_origin(annotation) in (Union, types.UnionType)


def model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an (optional) annotation names, or None."""
    bare = strip_optional(annotation)
    return bare if isinstance(bare, type) and issubclass(bare, BaseModel) else None


def value_type(annotation: Any) -> ValueType:
    """The ValueType of an annotation; unions of several kinds and unknown classes are `any`."""
    bare = strip_optional(annotation)
    if is_union(bare):
        kinds = {value_type(a).kind for a in typing.get_args(bare) if a is not type(None)}
        return ValueType(kinds.pop() if len(kinds) == 1 else "any", annotation)
    origin = typing.get_origin(bare) or bare
    args = typing.get_args(bare)
    if origin is Literal:
        return ValueType(_kind_of_values(args), annotation)
    if not isinstance(origin, type):
        return ValueType("any", annotation)
    if issubclass(origin, Enum):
        return ValueType(_kind_of_values(member.value for member in origin), annotation)
    scalar = _scalar_kind(origin)
    if scalar is not None:
        return ValueType(scalar, annotation)
    if issubclass(origin, BaseModel):
        return ValueType("mapping", annotation, fields={k: f.annotation for k, f in origin.model_fields.items()})
    if issubclass(origin, collections.abc.Mapping):
        return ValueType("mapping", annotation, item=value_type(args[1]) if len(args) == 2 else ANY)
    if issubclass(origin, list | tuple | collections.abc.Sequence) and not issubclass(origin, bytes):
        return ValueType("list", annotation, item=value_type(_item_annotation(origin, args)))
    return ValueType("any", annotation)


def _item_annotation(origin: type, args: tuple[Any, ...]) -> Any:
    """list[X], Sequence[X] and tuple[X, ...] hold X; a fixed-shape tuple holds anything."""
    if issubclass(origin, tuple):
        return args[0] if len(args) == 2 and args[1] is Ellipsis else Any
    return args[0] if args else Any


def _scalar_kind(cls: type) -> Kind | None:
    if issubclass(cls, bool):
        return "bool"
    if issubclass(cls, _NUMBER_CLASSES):
        return "number"
    if issubclass(cls, dt.datetime):
        return "datetime"
    if issubclass(cls, dt.date):
        return "date"
    if issubclass(cls, str):
        return "text"
    return None


def _kind_of_values(values: Iterable[Any]) -> Kind:
    """Literal or enum values: all text, all numbers or all bools; a mix compares by each value."""
    kinds = {_scalar_kind(type(value)) for value in values}
    only = kinds.pop() if len(kinds) == 1 else None
    return only or "any"
