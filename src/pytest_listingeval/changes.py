"""What changed between two run configurations: model, prompt text, schema and parameters."""

from __future__ import annotations

import difflib
from typing import Any

from pytest_listingeval.outcome import ConfigChanges, RunConfig


def _pair(old: str, new: str) -> tuple[str, str] | None:
    return (old, new) if old != new else None


def config_changes(
    reference: RunConfig, current: RunConfig, labels: tuple[str, str] = ("baseline", "current")
) -> ConfigChanges:
    """Model, prompt id, a unified diff of the prompt text, schema changes and changed parameters."""
    diff = "".join(
        difflib.unified_diff(
            reference.prompt_text.splitlines(keepends=True),
            current.prompt_text.splitlines(keepends=True),
            fromfile=f"{labels[0]}/{reference.prompt_id or '?'}",
            tofile=f"{labels[1]}/{current.prompt_id or '?'}",
        )
    )
    old_params, new_params = reference.params, current.params
    return ConfigChanges(
        model=_pair(reference.model, current.model),
        prompt_id=_pair(reference.prompt_id, current.prompt_id),
        prompt_diff=diff,
        schema_id=_pair(reference.schema_id, current.schema_id),
        schema_changes=tuple(schema_changes(reference.json_schema, current.json_schema)),
        params={
            key: (old_params.get(key), new_params.get(key))
            for key in sorted(set(old_params) | set(new_params))
            if old_params.get(key) != new_params.get(key)
        },
    )


def schema_changes(old: Any, new: Any) -> list[str]:
    """Readable differences between two JSON schemas: fields added/removed, enum values changed."""
    if not isinstance(old, dict) or not isinstance(new, dict) or not old or not new:
        return []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    notes = [f"field added: {name}" for name in sorted(set(new_props) - set(old_props))]
    notes += [f"field removed: {name}" for name in sorted(set(old_props) - set(new_props))]
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
    for name in sorted(set(old_defs) & set(new_defs)):
        before = set(old_defs[name].get("enum", []))
        after = set(new_defs[name].get("enum", []))
        if added := sorted(after - before):
            notes.append(f"{name}: values added {added}")
        if removed := sorted(before - after):
            notes.append(f"{name}: values removed {removed}")
    for name in sorted(set(old_props) & set(new_props)):
        if old_props[name] != new_props[name] and not any(name in note for note in notes):
            notes.append(f"field changed: {name}")
    return notes
