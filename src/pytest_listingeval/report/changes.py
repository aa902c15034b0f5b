"""What changed in the run configuration against the baseline: model, prompt, schema, parameters."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import formatting as fmt


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff with its kind: add, del, hunk, meta or ctx."""

    kind: str
    text: str


@dataclass(frozen=True)
class ChangesView:
    """What changed in the configuration against the baseline, as text ready to show."""

    model: tuple[str, str] | None = None
    prompt_id: tuple[str, str] | None = None
    schema_id: tuple[str, str] | None = None
    prompt_diff: tuple[DiffLine, ...] = ()
    schema_changes: tuple[str, ...] = ()
    params: tuple[tuple[str, str, str], ...] = ()

    @property
    def empty(self) -> bool:
        """Tell whether nothing changed at all."""
        return not (
            self.model or self.prompt_id or self.schema_id or self.prompt_diff or self.schema_changes or self.params
        )


def diff_lines(diff: str) -> tuple[DiffLine, ...]:
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
    return tuple(lines)


def changes_view(outcome: RunOutcome) -> ChangesView | None:
    """The configuration changes against the baseline, or None without a comparison."""
    if outcome.comparison is None:
        return None
    raw = outcome.comparison.config_changes
    return ChangesView(
        model=raw.model,
        prompt_id=raw.prompt_id,
        schema_id=raw.schema_id,
        prompt_diff=diff_lines(raw.prompt_diff),
        schema_changes=raw.schema_changes,
        params=tuple(
            (name, fmt.value_text(old), fmt.value_text(new)) for name, (old, new) in sorted(raw.params.items())
        ),
    )
