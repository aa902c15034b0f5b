"""Case files: load, validate against the output model, name by path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from pytest_listingeval.check_model import Check, CheckSpecError
from pytest_listingeval.custom_checks import CheckRegistryError, checks_in_scope
from pytest_listingeval.field_specs import SpecReader
from pytest_listingeval.paths import PathError
from pytest_listingeval.plain import jsonable
from pytest_listingeval.task import CaseInput

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
_CASE_KEYS = frozenset({"image", "inputs", "expected", "critical", "tags", "notes", "source"})
# libyaml's loader when PyYAML has it: about 8x faster than the pure-Python SafeLoader.
_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CaseError(Exception):
    """A malformed case file; the message names the file and the problem."""


@dataclass(frozen=True)
class Case:
    """One evaluation case: its inputs (an image, named values, files) and the checks its output must pass."""

    id: str
    path: Path
    image: Path | None
    expected: dict[str, Any]
    checks: dict[str, list[Check]] = field(compare=False, repr=False)
    critical: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str = ""
    expectations: str = ""
    inputs: dict[str, Any] = field(default_factory=dict, compare=False)

    def task_input(self) -> CaseInput:
        """What the task is given for this case."""
        return CaseInput(id=self.id, image=self.image, inputs=self.inputs)


def expectations_hash(expected: Mapping[str, Any], critical: Sequence[str]) -> str:
    """sha256 of what a case asks for (`expected` and `critical`): it changes on every relabel."""
    canonical = json.dumps(
        {"expected": jsonable(dict(expected)), "critical": sorted(critical)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def case_id(path: Path, cases_root: Path) -> str:
    """Case id: the path relative to the cases folder, without the suffix, with '/'."""
    return path.relative_to(cases_root).with_suffix("").as_posix()


def load_case(path: Path, cases_root: Path, output_model: type[BaseModel], root: Path | None = None) -> Case:
    """Read and validate one case file, or raise CaseError naming the file.

    Its image and file inputs must resolve inside `root` (the project; by default the cases
    folder's parent), so a case can never make the harness read, send and embed a file from
    elsewhere.
    """
    where = path.as_posix()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"{where}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CaseError(f"{where}: bad YAML: {_one_line(str(exc))}") from exc
    except ValueError as exc:  # PyYAML builds unquoted dates itself: 2024-02-30 fails there
        raise CaseError(f"{where}: bad YAML: a date that does not exist ({exc})") from exc
    if not isinstance(data, dict):
        raise CaseError(f"{where}: a case is a mapping with 'expected' and 'image' or 'inputs'")
    unknown = sorted(set(data) - _CASE_KEYS)
    if unknown:
        raise CaseError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_CASE_KEYS)}")
    project = (root or cases_root.parent).resolve()
    if data.get("image") is None and data.get("inputs") is None:
        raise CaseError(f"{where}: a case needs 'image' (a file beside it) or 'inputs' (a mapping), or both")
    image = None if data.get("image") is None else _image_path(data["image"], path, where, project)
    inputs = _inputs(data.get("inputs"), path, where, project)
    expected = data.get("expected")
    if not isinstance(expected, dict) or not expected:
        raise CaseError(f"{where}: 'expected' must map at least one field to its check")
    checks = {name: _field_checks(name, spec, output_model, where) for name, spec in expected.items()}
    critical = _string_list(data.get("critical"), "critical", where)
    missing = [name for name in critical if name not in expected]
    if missing:
        raise CaseError(f"{where}: critical field(s) {missing} are not in 'expected'")
    notes = data.get("notes") or ""
    # Specs travel as JSON (xdist, results, baseline): keep them in that form from the start.
    plain_expected = jsonable(expected)
    return Case(
        id=case_id(path, cases_root),
        path=path,
        image=image,
        expected=plain_expected,
        checks=checks,
        critical=tuple(critical),
        tags=tuple(_string_list(data.get("tags"), "tags", where)),
        notes=str(notes),
        expectations=expectations_hash(plain_expected, critical),
        inputs=inputs,
    )


def _image_path(value: Any, case_path: Path, where: str, root: Path) -> Path:
    image = _file_beside(value, case_path, where, root, "image")
    if image.suffix.lower() not in IMAGE_SUFFIXES:
        raise CaseError(f"{where}: image {value!r} must be one of {sorted(IMAGE_SUFFIXES)}")
    return image


def _file_beside(value: Any, case_path: Path, where: str, root: Path, what: str) -> Path:
    """An existing file named relative to the case file, inside the project."""
    if not isinstance(value, str) or not value.strip():
        raise CaseError(f"{where}: {what} must be a path relative to the case file")
    resolved = (case_path.parent / value).resolve()
    if not resolved.is_relative_to(root):
        raise CaseError(f"{where}: {what} {value!r} resolves to {resolved}, outside the project {root}")
    if not resolved.is_file():
        raise CaseError(f"{where}: {what} {value!r} not found (looked for {resolved})")
    return resolved


def _inputs(value: Any, case_path: Path, where: str, root: Path) -> dict[str, Any]:
    """The `inputs:` mapping, each `{file: path}` replaced by the file's resolved path."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise CaseError(f"{where}: 'inputs' must map at least one name to a value or {{file: path}}")
    inputs: dict[str, Any] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise CaseError(f"{where}: input name {name!r} must be an identifier (letters, digits, _)")
        if isinstance(item, dict) and "file" in item:
            if set(item) != {"file"}:
                raise CaseError(f"{where}: input {name!r}: a file input is {{file: path}} and nothing else")
            inputs[name] = _file_beside(item["file"], case_path, where, root, f"input {name!r} file")
        else:
            inputs[name] = item
    return inputs


def _field_checks(name: Any, spec: Any, output_model: type[BaseModel], where: str) -> list[Check]:
    if not isinstance(name, str):
        raise CaseError(f"{where}: unknown field {name!r}; fields: {', '.join(output_model.model_fields)}")
    try:
        return SpecReader(output_model, checks_in_scope()).checks(name, spec)
    except CheckRegistryError as exc:
        raise CaseError(f"{where}: {exc}") from exc
    except PathError as exc:
        # A plain field name is named by the message itself ("unknown field 'colour'; fields: ...").
        nested = "." in name or "[" in name
        raise CaseError(f"{where}: field {name!r}: {exc}" if nested else f"{where}: {exc}") from exc
    except CheckSpecError as exc:
        raise CaseError(f"{where}: field {name!r}: {exc}") from exc


def _string_list(value: Any, key: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CaseError(f"{where}: {key!r} must be a list of strings")
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())
