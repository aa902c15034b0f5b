"""pydantic-evals datasets (`Dataset.to_file`, YAML or JSON): `cases` with inputs, expected output and evaluators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from pytest_listingeval.importers.evaluators import map_evaluator
from pytest_listingeval.importers.expected import add_check, expected_from
from pytest_listingeval.importers.inputs import add_inputs
from pytest_listingeval.importers.model import Draft, Imported, ImportOptions, SourceError
from pytest_listingeval.importers.naming import slug, stem_of
from pytest_listingeval.importers.source_file import read_text

FORMAT = "pydantic-evals"
_DATASET_KEYS = frozenset({"name", "cases", "evaluators", "$schema"})
_CASE_KEYS = frozenset({"name", "inputs", "metadata", "expected_output", "evaluators"})
_NOTE_KEYS = ("notes", "note", "description", "comment")
_MAX_TAG_VALUE_CHARS = 40
_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_pydantic_evals(path: Path, options: ImportOptions, shown: str) -> Imported:
    """Every case of a dataset file as a draft case; `shown` is how the case's `source:` names the file."""
    data = _load(path)
    if not isinstance(data, dict):
        raise SourceError(f"{path}: not a mapping (a pydantic-evals dataset is a mapping with 'cases')")
    cases = data.get("cases")
    if not isinstance(cases, list):
        raise SourceError(f"{path}: 'cases' must be a list of cases")
    shared = _evaluators(data.get("evaluators"), f"{path}: dataset")
    imported = Imported()
    stem = stem_of(path.stem)
    for key in data:
        if key not in _DATASET_KEYS:
            imported.unmapped.add(f"dataset key {key!r}", "the dataset")
    if not cases:
        raise SourceError(f"{path}: no cases")
    for number, case in enumerate(cases, 1):
        if not isinstance(case, dict):
            raise SourceError(f"{path}: case {number} is not a mapping")
        name = case.get("name") if isinstance(case.get("name"), str) and case["name"].strip() else None
        draft = Draft(
            fallback=f"{stem}-{number}",
            name=name,
            tags=[f"from-{FORMAT}"],
            source={"format": FORMAT, "file": shown, "case": name or number},
        )
        _read_case(imported, draft, case, shared, options, f"{path}: case {draft.label!r}")
    return imported


def _read_case(
    imported: Imported,
    draft: Draft,
    case: dict[str, Any],
    shared: list[Any],
    options: ImportOptions,
    where: str,
) -> None:
    for key in case:
        if key not in _CASE_KEYS:
            imported.unmapped.add(f"case key {key!r}", draft.label)
    _metadata(draft, case.get("metadata"))
    if "inputs" not in case:
        imported.skipped.add("no 'inputs'", draft.label)
        return
    inputs = case["inputs"]
    add_inputs(imported, draft, inputs if isinstance(inputs, dict) else {"input": inputs}, options.input_fields)
    if case.get("expected_output") is not None:
        for field, spec in expected_from(case["expected_output"], options.output_field).items():
            add_check(draft.expected, field, spec)
    for spec in [*_evaluators(case.get("evaluators"), where), *shared]:
        for kind in map_evaluator(spec, draft.expected, options.output_field):
            imported.unmapped.add(kind, draft.label)
    imported.keep(draft, "nothing to expect (no expected_output, no evaluator that maps)")


def _metadata(draft: Draft, metadata: Any) -> None:
    """Kept whole in `source:`; its `tags`, short text values (as `key-value` tags) and notes also go where they fit."""
    if metadata is None:
        return
    draft.source["metadata"] = metadata
    if not isinstance(metadata, dict):
        return
    notes = []
    for key, value in metadata.items():
        if key == "tags" and isinstance(value, list):
            draft.tags.extend(tag for tag in (slug(str(v)) for v in value if isinstance(v, str)) if tag)
        elif key in _NOTE_KEYS and isinstance(value, str):
            notes.append(value.strip())
        elif isinstance(value, str) and len(value) <= _MAX_TAG_VALUE_CHARS and slug(value):
            draft.tags.append(slug(f"{key}-{value}"))
    draft.notes = "\n".join(note for note in notes if note)


def _evaluators(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(f"{where}: 'evaluators' must be a list")
    return value


def _load(path: Path) -> Any:
    """The dataset as data: JSON for `.json`, YAML for `.yaml`/`.yml` (what pydantic-evals writes)."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        shown = suffix or "(no suffix)"
        raise SourceError(f"{path}: unknown format {shown}: a pydantic-evals dataset is a .yaml, .yml or .json file")
    text = read_text(path)
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: bad JSON on line {exc.lineno}: {exc.msg}") from exc
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" on line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SourceError(f"{path}: bad YAML{line}: {problem}") from exc
