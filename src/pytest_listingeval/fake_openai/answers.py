"""Scripted answers: their types, their text, and the answers file the CLI reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_listingeval.fake_openai import faults
from pytest_listingeval.fake_openai.faults import Fault
from pytest_listingeval.fake_openai.recorded import RecordedRequest

# A JSON object (sent as its JSON text), a plain text, or a fault.
Answer = Mapping[str, Any] | str | Fault
AnswerFn = Callable[[RecordedRequest], Answer | None]

DEFAULT_KEY = "default"


def answer_text(answer: Mapping[str, Any] | str) -> str:
    """The output text for an answer: a string as is, an object as compact JSON."""
    return answer if isinstance(answer, str) else json.dumps(dict(answer), ensure_ascii=False)


def load_answers(path: Path) -> tuple[dict[str, Answer], Answer | None]:
    """Read an answers file: ({image sha256: answer}, the `default` answer or None).

    The file is a JSON object; each value is an answer object, a text, or `{"fault": name}`.
    Raises ValueError naming the file and the key at fault.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of image sha256 -> answer")
    table = {str(key): _one(path, str(key), value) for key, value in data.items()}
    return table, table.pop(DEFAULT_KEY, None)


def _one(path: Path, key: str, value: Any) -> Answer:
    if isinstance(value, dict) and set(value) == {"fault"}:
        try:
            return faults.by_name(str(value["fault"]))
        except ValueError as exc:
            raise ValueError(f"{path}: {key}: {exc}") from None
    if isinstance(value, dict | str):
        return value
    raise ValueError(f"{path}: {key}: an answer must be a JSON object, a string or {{'fault': name}}")
