"""What changed in the run configuration against the baseline: model, prompt, schema, parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_listingeval.report import formatting as fmt


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff with its kind: add, del, hunk, meta or ctx."""

    kind: str
    text: str


@dataclass
class ConfigChanges:
    """What changed in the configuration against the baseline."""

    model: tuple[str, str] | None = None
    prompt_id: tuple[str, str] | None = None
    prompt_diff: list[DiffLine] = field(default_factory=list)
    schema_changes: list[str] = field(default_factory=list)
    params: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Tell whether nothing changed at all."""
        return not (self.model or self.prompt_id or self.prompt_diff or self.schema_changes or self.params)


def _pair(value: Any) -> tuple[str, str] | None:
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return (fmt.value_text(value[0]), fmt.value_text(value[1]))
    return None


def diff_lines(diff: str) -> list[DiffLine]:
    """Split a unified diff into classified lines for +/- colouring."""
    lines = []
    for text in diff.splitlines():
        if text.startswith(("+++", "---")):
            kind = "meta"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("+"):
            kind = "add"
        elif text.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append(DiffLine(kind, text))
    return lines


def config_changes(results: Mapping[str, Any]) -> ConfigChanges | None:
    """Collect the configuration changes against the baseline, or None without a comparison."""
    comparison = results.get("comparison") or {}
    raw = comparison.get("config_changes")
    if not isinstance(raw, Mapping):
        return None
    params = raw.get("params") or {}
    return ConfigChanges(
        model=_pair(raw.get("model")),
        prompt_id=_pair(raw.get("prompt_id")),
        prompt_diff=diff_lines(raw.get("prompt_diff") or ""),
        schema_changes=[str(s) for s in raw.get("schema_changes") or []],
        params=[(str(name), *pair) for name, value in sorted(params.items()) if (pair := _pair(value)) is not None],
    )
