"""Plain JSON data from whatever a task or a case file hands over."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def jsonable(value: Any) -> Any:
    """The value as plain JSON data: enum members by value, unknown objects (dates too) as strings.

    Results travel from xdist workers as JSON, and a task may hand back enum members or
    other objects in its output (`model_dump()` without mode="json").
    """
    return json.loads(json.dumps(value, default=_plain, ensure_ascii=False))
