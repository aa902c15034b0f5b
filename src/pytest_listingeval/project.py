"""Finding the project a command runs in: the nearest pyproject.toml with `[tool.listingeval]`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def project_root(start: Path) -> tuple[Path, dict[str, Any]]:
    """The nearest folder holding a pyproject.toml with `[tool.listingeval]`, and that table."""
    for folder in (start, *start.parents):
        path = folder / "pyproject.toml"
        if path.is_file():
            try:
                table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if isinstance(table.get("listingeval"), dict):
                return folder, table["listingeval"]
    return start, {}


def cases_folder(root: Path, table: dict[str, Any]) -> Path:
    """The project's cases folder (`[tool.listingeval] cases`, default `cases/`)."""
    return root / str(table.get("cases", "cases"))
