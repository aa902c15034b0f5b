"""Expected values from a source, as the `expected:` checks of a case file (see docs/contracts.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Scalar = str | int | float | bool


def expected_from(value: Any, output_field: str) -> dict[str, Any]:
    """Checks for an expected output: a mapping gives one check per field (nested ones as paths); else one field."""
    if isinstance(value, Mapping):
        return _flatten(value, "")
    return {output_field: bare(value)}


def decode_mapping(value: Any) -> Any:
    """A JSON object written as a string (OpenAI Evals often stores structured answers so) as a mapping."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(decoded, dict):
            return decoded
    return value


def alternatives(values: list[Any]) -> Any | None:
    """The check for a list of acceptable answers: the one value, `any_of`, or None when they are not scalars."""
    if not values or not all(isinstance(v, Scalar) for v in values):
        return None
    unique = list(dict.fromkeys(values))
    return unique[0] if len(unique) == 1 else {"any_of": unique}


def bare(value: Any) -> Any:
    """A value as an equality check: as written, except lists and mappings, which a case must wrap in `equals`."""
    if isinstance(value, list | tuple | Mapping):
        return {"equals": _plain(value)}
    return value


def add_check(expected: dict[str, Any], field: str, spec: Any) -> None:
    """Add a check to a field: needles of `contains_all` checks join; other checks make a list that must all pass."""
    if field not in expected:
        expected[field] = spec
        return
    current = expected[field]
    checks = list(current) if isinstance(current, list) else [current]
    if spec in checks:
        return
    added = _needles(spec)
    for index, check in enumerate(checks):
        present = _needles(check)
        if present is not None and added is not None:
            checks[index] = {"contains_all": list(dict.fromkeys([*present, *added]))}
            break
    else:
        checks.append(spec)
    expected[field] = checks[0] if len(checks) == 1 else checks


def _needles(check: Any) -> list[Any] | None:
    if isinstance(check, dict) and set(check) == {"contains_all"} and isinstance(check["contains_all"], list):
        return list(check["contains_all"])
    return None


def _flatten(mapping: Mapping[Any, Any], prefix: str) -> dict[str, Any]:
    """`{address: {city: X}}` as `{address.city: X}`; a mapping whose keys are not names stays whole."""
    checks: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value and all(isinstance(k, str) and k.isidentifier() for k in value):
            checks.update(_flatten(value, path))
        else:
            checks[path] = bare(value)
    return checks


def _plain(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, so the YAML writer shows them plainly."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
