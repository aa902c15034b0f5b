"""What an importer makes of a source: a draft case per item, and what it could not carry over."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_listingeval.cases import IMAGE_SUFFIXES

# How many item ids the report shows per kind of problem.
SHOWN_IDS = 3


class SourceError(Exception):
    """The source cannot be read as the format asked for; the message is one line naming the file."""


@dataclass(frozen=True)
class ImportOptions:
    """What the command line says about mapping a source's fields."""

    input_fields: tuple[str, ...] = ()
    expected_field: str | None = None
    output_field: str = "output"


@dataclass(frozen=True)
class Attachment:
    """A file decoded from the source (a data URL), written beside the case."""

    data: bytes
    suffix: str

    @property
    def is_image(self) -> bool:
        """Whether a case may give this file as its `image:`."""
        return self.suffix in IMAGE_SUFFIXES


@dataclass
class Draft:
    """One source item as a case, before it has a file.

    `name` is the source's name for the item, when it has one; `fallback` (`<stem>-<n>`) names
    it otherwise, in reports and as its case id.
    """

    fallback: str
    name: str | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    image: Attachment | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How reports name the item: its name in the source, else `<stem>-<n>`."""
        return self.name or self.fallback

    def add_file(self, name: str, attachment: Attachment) -> None:
        """The first image of an item becomes its `image:`; other files are `{file:}` inputs."""
        if self.image is None and attachment.is_image:
            self.image = attachment
        else:
            self.inputs[name] = attachment


@dataclass
class Tally:
    """Items per kind of problem, in the order first seen: how many, and which came first."""

    kinds: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, label: str) -> None:
        """Count `label` under `kind` once."""
        labels = self.kinds.setdefault(kind, [])
        if label not in labels:
            labels.append(label)

    def lines(self) -> list[str]:
        """One line per kind: `kind: count (first ids)`."""
        rows = []
        for kind, labels in self.kinds.items():
            shown = ", ".join(labels[:SHOWN_IDS])
            more = f", and {len(labels) - SHOWN_IDS} more" if len(labels) > SHOWN_IDS else ""
            rows.append(f"{kind}: {len(labels)} ({shown}{more})")
        return rows

    def __bool__(self) -> bool:
        return bool(self.kinds)


@dataclass
class Imported:
    """Everything read from one source: drafts to write, items skipped (with why) and what did not map."""

    drafts: list[Draft] = field(default_factory=list)
    skipped: Tally = field(default_factory=Tally)
    unmapped: Tally = field(default_factory=Tally)

    def keep(self, draft: Draft, nothing_expected: str) -> None:
        """Keep a draft that expects something and gives the task something; else count it skipped, saying why."""
        if not draft.expected:
            self.skipped.add(nothing_expected, draft.label)
        elif draft.image is None and not draft.inputs:
            self.skipped.add("nothing to give the task (no input field could be mapped)", draft.label)
        else:
            self.drafts.append(draft)
