"""OpenAI Evals JSONL: hosted-evals items (`{"item": {...}, "sample": {...}}`) and legacy samples (`input`, `ideal`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_listingeval.importers.expected import alternatives, decode_mapping, expected_from
from pytest_listingeval.importers.inputs import add_inputs
from pytest_listingeval.importers.model import Draft, Imported, ImportOptions, SourceError
from pytest_listingeval.importers.naming import stem_of
from pytest_listingeval.importers.source_file import read_text

FORMAT = "openai-evals"
DEFAULT_EXPECTED_FIELDS = ("ground_truth", "ideal")


def read_openai_evals(path: Path, options: ImportOptions, shown: str) -> Imported:
    """Every item of a JSONL file as a draft case; `shown` is how the case's `source:` names the file."""
    imported = Imported()
    stem = stem_of(path.stem)
    number = 0
    for line_number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        record = _record(path, line_number, line)
        number += 1
        draft = Draft(
            fallback=f"{stem}-{number}",
            tags=[f"from-{FORMAT}"],
            source={"format": FORMAT, "file": shown, "line": line_number},
        )
        fields = _fields(imported, draft, record, f"{path}: line {line_number}")
        key = options.expected_field or next((k for k in DEFAULT_EXPECTED_FIELDS if k in fields), None)
        if key is not None and key in fields:
            _add_expected(imported, draft, fields[key], options.output_field)
        add_inputs(imported, draft, {k: v for k, v in fields.items() if k != key}, options.input_fields)
        wanted = " or ".join(repr(k) for k in ((key,) if options.expected_field else DEFAULT_EXPECTED_FIELDS))
        imported.keep(draft, f"nothing to expect (no {wanted} value)")
    if number == 0:
        raise SourceError(f"{path}: no items (the file is empty)")
    return imported


def _record(path: Path, line_number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}: line {line_number}: bad JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise SourceError(f"{path}: line {line_number}: not a JSON object (each line holds one item)")
    return record


def _fields(imported: Imported, draft: Draft, record: dict[str, Any], where: str) -> dict[str, Any]:
    """A hosted item's `item` namespace, or a legacy sample's own keys."""
    if "item" not in record:
        return record
    item = record["item"]
    if not isinstance(item, dict):
        raise SourceError(f"{where}: 'item' is not a JSON object")
    for key in record:
        if key == "sample":
            imported.unmapped.add("'sample' (a stored model answer; the task answers instead)", draft.label)
        elif key != "item":
            imported.unmapped.add(f"key {key!r} beside 'item'", draft.label)
    return item


def _add_expected(imported: Imported, draft: Draft, value: Any, output_field: str) -> None:
    """A mapping (or JSON text of one) checks each field; a list is a set of acceptable answers; else one value."""
    value = decode_mapping(value)
    if value is None:
        return
    if isinstance(value, list):
        check = alternatives(value)
        if check is None:
            imported.unmapped.add("expected list that is empty or not of plain values", draft.label)
            return
        draft.expected[output_field] = check
        return
    draft.expected.update(expected_from(value, output_field))
