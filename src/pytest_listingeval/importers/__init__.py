"""Importing eval cases from other tools' datasets: OpenAI Evals JSONL and pydantic-evals files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_listingeval.importers.model import Imported, ImportOptions, SourceError
from pytest_listingeval.importers.openai_evals import read_openai_evals
from pytest_listingeval.importers.pydantic_evals import read_pydantic_evals

Reader = Callable[[Path, ImportOptions, str], Imported]
READERS: dict[str, Reader] = {"openai-evals": read_openai_evals, "pydantic-evals": read_pydantic_evals}

__all__ = ["READERS", "ImportOptions", "Imported", "SourceError", "read_source"]


def read_source(source_format: str, path: Path, options: ImportOptions, shown: str) -> Imported:
    """Read `path` as `source_format` (a key of READERS); `shown` names the file in each case's `source:`."""
    reader = READERS.get(source_format)
    if reader is None:
        raise SourceError(f"unknown format {source_format!r}; known: {', '.join(READERS)}")
    return reader(path, options, shown)
