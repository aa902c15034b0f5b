"""The enum fields of an output model (a Literal or an Enum, optional or not) and their allowed values."""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel


def allowed_values(annotation: Any) -> tuple[str, ...] | None:
    """The values a Literal or Enum annotation allows, as JSON strings; None for any other type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return allowed_values(kinds[0]) if len(kinds) == 1 else None
    if origin is Literal:
        return tuple(str(getattr(v, "value", v)) for v in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(member.value) for member in annotation)
    return None


def enum_fields(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Each top-level field of `model` whose type is a Literal or an Enum, with its allowed values."""
    found = {}
    for name, info in model.model_fields.items():
        values = allowed_values(info.annotation)
        if values:
            found[name] = values
    return found
