"""Writing imported drafts as case files (and the files beside them) in readable, stable YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_listingeval.importers.model import Attachment, Draft, Imported
from pytest_listingeval.importers.naming import assign_ids


@dataclass(frozen=True)
class PlannedCase:
    """One case to write: its id, its YAML file and text, and the files beside it."""

    case_id: str
    path: Path
    text: str
    files: tuple[tuple[Path, bytes], ...] = ()

    @property
    def paths(self) -> list[Path]:
        """Every file this case writes, the case file first."""
        return [self.path, *(path for path, _ in self.files)]


class _CaseDumper(yaml.SafeDumper):
    """Block style, keys in the order given, no anchors; multi-line text as a literal block."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never anchors: a value the source shares is written out where it is used."""
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_CaseDumper.add_representer(str, _represent_text)


def case_yaml(document: dict[str, Any]) -> str:
    """A case document as YAML: block style, strings quoted only when they must be."""
    return yaml.dump(
        document, Dumper=_CaseDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


@dataclass
class _Beside:
    """The files written beside one case: `<id><suffix>` for its image, `<id>.<input><suffix>` for inputs."""

    out_dir: Path
    case_id: str
    files: list[tuple[Path, bytes]] = field(default_factory=list)

    def add(self, attachment: Attachment, input_name: str | None = None) -> str:
        """Plan the file and return its name relative to the case file."""
        middle = f".{input_name}" if input_name else ""
        name = f"{self.case_id}{middle}{attachment.suffix}"
        self.files.append((self.out_dir / name, attachment.data))
        return name


def plan_cases(imported: Imported, out_dir: Path) -> list[PlannedCase]:
    """The files each kept draft becomes under `out_dir`, named by its case id."""
    planned = []
    for draft, case_id in zip(imported.drafts, assign_ids(imported), strict=True):
        beside = _Beside(out_dir, case_id)
        text = case_yaml(_document(draft, beside))
        planned.append(PlannedCase(case_id, out_dir / f"{case_id}.yaml", text, tuple(beside.files)))
    return planned


def _document(draft: Draft, beside: _Beside) -> dict[str, Any]:
    """The case file's mapping, keys in the order people read them."""
    document: dict[str, Any] = {}
    if draft.image is not None:
        document["image"] = beside.add(draft.image)
    if draft.inputs:
        document["inputs"] = {
            name: {"file": beside.add(value, name)} if isinstance(value, Attachment) else value
            for name, value in draft.inputs.items()
        }
    document["expected"] = draft.expected
    tags = list(dict.fromkeys(draft.tags))
    if tags:
        document["tags"] = tags
    if draft.notes:
        document["notes"] = draft.notes
    document["source"] = draft.source
    return document


def existing_files(planned: list[PlannedCase]) -> list[Path]:
    """The files the plan would overwrite."""
    return [path for case in planned for path in case.paths if path.exists()]


def write_cases(planned: list[PlannedCase]) -> None:
    """Write every planned case and the files beside it (folders made as needed)."""
    for case in planned:
        case.path.parent.mkdir(parents=True, exist_ok=True)
        for path, data in case.files:
            path.write_bytes(data)
        case.path.write_text(case.text, encoding="utf-8")
