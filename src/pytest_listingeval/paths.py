"""Field paths as `expected` keys: `address.city`, `line_items[0].name`, `line_items[*].price`.

A path is checked against the output model when a case loads (every name must exist) and
followed through the task's output when it is scored; `[*]` maps the rest of the path over
every item of a list, so the value is the list of what each item holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from pytest_listingeval.check_types import ValueType, model_class, strip_optional, value_type
from pytest_listingeval.comparing import describe, is_list

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME}|\[(?:\d+|\*)\])*")
_STEP = re.compile(rf"\.?({_NAME})|\[(\d+|\*)\]")
EACH = "*"
Step = str | int  # a field or key name, a list index, or EACH


class PathError(ValueError):
    """A field path that is malformed or names something the output model does not have."""


@dataclass(frozen=True)
class Resolved:
    """What a path holds in an output; `missing` says why it is None when a step was not there."""

    value: Any
    missing: str | None = None


@lru_cache(maxsize=1024)
def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of a path: names, indexes and EACH for `[*]`."""
    if not _PATH.fullmatch(text):
        raise PathError(
            f"field path {text!r} is malformed: write field names joined by '.', "
            "with [N] or [*] after a list (e.g. line_items[0].name, line_items[*].price)"
        )
    steps: list[Step] = []
    for name, index in _STEP.findall(text):
        if name:
            steps.append(name)
        else:
            steps.append(EACH if index == EACH else int(index))
    return tuple(steps)


def render(steps: tuple[Step, ...]) -> str:
    """The path text of some steps (the inverse of parse_path)."""
    text = ""
    for step in steps:
        if isinstance(step, int) or step == EACH:
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text


@lru_cache(maxsize=1024)
def path_type(model: type[BaseModel], text: str) -> ValueType:
    """The type a path leads to in `model` (a list of it under `[*]`); PathError naming the step that is wrong."""
    steps = parse_path(text)
    first = steps[0]
    if first not in model.model_fields:
        raise PathError(f"unknown field {first!r}; fields: {', '.join(model.model_fields)}")
    return value_type(_annotation_after(model.model_fields[str(first)].annotation, steps, 1))


def _annotation_after(annotation: Any, steps: tuple[Step, ...], at: int) -> Any:
    if at == len(steps):
        return annotation
    here, step = render(steps[:at]), steps[at]
    kind = value_type(annotation)
    if isinstance(step, int) or step == EACH:
        if kind.kind != "list":
            raise PathError(f"{here} is not a list, so {render(steps[: at + 1])} does not exist")
        inner = _annotation_after(kind.items.annotation, steps, at + 1)
        return list[inner] if step == EACH else inner  # type: ignore[valid-type]
    model = model_class(annotation)
    if model is not None:
        if step not in model.model_fields:
            fields = ", ".join(model.model_fields)
            raise PathError(f"unknown field {step!r} in {here}; fields there: {fields}")
        return _annotation_after(model.model_fields[step].annotation, steps, at + 1)
    if kind.kind == "mapping":
        return _annotation_after(kind.items.annotation, steps, at + 1)
    if kind.kind == "list":
        raise PathError(f"{here} is a list: name an item as {here}[0] or every item as {here}[*]")
    if kind.kind == "any" and strip_optional(annotation) is Any:
        return _annotation_after(Any, steps, at + 1)
    raise PathError(f"{here} holds {kind.kind} values ({_type_name(annotation)}), which have no field {step!r}")


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def value_at(output: Mapping[str, Any], text: str) -> Resolved:
    """Follow a path through an output; a step that is not there gives None and says why."""
    return _follow(output, parse_path(text), 0)


def _follow(value: Any, steps: tuple[Step, ...], at: int) -> Resolved:
    if at == len(steps):
        return Resolved(value)
    here, step = render(steps[:at]), steps[at]
    there = render(steps[: at + 1])
    if value is None:
        return Resolved(None, f"{here} is null, so {there} does not exist" if here else f"{there} is missing")
    if step == EACH:
        if not is_list(value):
            return Resolved(None, f"{here} is {describe(value)}, not a list")
        return Resolved([_follow(item, steps, at + 1).value for item in value])
    if isinstance(step, int):
        if not is_list(value):
            return Resolved(None, f"{here} is {describe(value)}, not a list")
        if step >= len(value):
            count = f"{len(value)} item{'' if len(value) == 1 else 's'}"
            return Resolved(None, f"{here} has {count}; {there} does not exist")
        return _follow(value[step], steps, at + 1)
    if not isinstance(value, Mapping):
        return Resolved(None, f"{here} is {describe(value)}, which has no field {step!r}")
    if step not in value:
        return Resolved(None, f"the output has no {there}")
    return _follow(value[step], steps, at + 1)
