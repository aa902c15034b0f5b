"""The one writer and reader of the run's JSON documents: results JSON, run record, incomplete marker.

Every document carries `"version"` (an integer raised on any incompatible change); a reader
refuses a document of another version with a one-line reason instead of guessing.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pytest_listingeval.outcome import OUTCOME_VERSION, IncompleteRun, RunOutcome


class DocumentError(Exception):
    """A JSON document cannot be read as what it claims to be; the message is one line."""


def dump_document(model: BaseModel, *, sort_keys: bool = False, exclude_none: bool = False) -> str:
    """Indented JSON text of a model, newline-terminated."""
    data = model.model_dump(mode="json", exclude_none=exclude_none)
    return json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"


def write_text_atomically(path: Path, text: str) -> None:
    """Write aside and rename: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def parse_document(text: str, source: str) -> dict[str, Any]:
    """A JSON object of the supported version, or DocumentError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DocumentError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DocumentError(f"{source} is not a JSON object")
    version = data.get("version")
    if version != OUTCOME_VERSION:
        shown = "no version" if version is None else f"version {version!r}"
        raise DocumentError(
            f"{source} has {shown}; this listingeval reads version {OUTCOME_VERSION} (re-run it with this version)"
        )
    return data


def results_text(outcome: RunOutcome) -> str:
    """The results JSON (and run record) text of an outcome."""
    return dump_document(outcome)


def incomplete_text(marker: IncompleteRun) -> str:
    """The results JSON text written when a run starts."""
    return dump_document(marker)


def parse_results(text: str, source: str) -> RunOutcome | IncompleteRun:
    """A results JSON or run record; IncompleteRun when the run that wrote it never finished."""
    data = parse_document(text, source)
    model: type[RunOutcome] | type[IncompleteRun] = IncompleteRun if data.get("verdict") == "incomplete" else RunOutcome
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise DocumentError(f"{source} is not a listingeval results document ({where}: {first['msg']})") from exc


def read_results(path: Path) -> RunOutcome | IncompleteRun:
    """Read a results JSON or run record file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read {path}: {exc}") from exc
    return parse_results(text, str(path))
