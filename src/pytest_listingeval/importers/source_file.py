"""Reading a source file's text, with one-line errors that name it."""

from __future__ import annotations

from pathlib import Path

from pytest_listingeval.importers.model import SourceError


def read_text(path: Path) -> str:
    """The file's text, or a SourceError naming the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
