"""Extractor settings: defaults, overridden by `[tool.listingeval]` in the nearest pyproject.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from extractor.errors import ConfigError

DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_PROMPT = "default"


@dataclass(frozen=True)
class Settings:
    """How the extractor calls the model and prepares images."""

    model: str = DEFAULT_MODEL
    prompt: str = DEFAULT_PROMPT
    max_side: int = 1024
    max_bytes: int = 20 * 1024 * 1024
    detail: str = "auto"
    timeout_s: float = 60.0
    attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 20.0
    max_output_tokens: int = 1024
    temperature: float | None = None

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-None overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def params(self) -> dict[str, Any]:
        """The parameters that change the model's answer, for run records."""
        return {
            "max_side": self.max_side,
            "detail": self.detail,
            "max_output_tokens": self.max_output_tokens,
            "temperature": self.temperature,
        }


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above `start` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def project_table(start: Path | None = None) -> dict[str, Any]:
    """The `[tool.listingeval]` table of the nearest pyproject.toml, or an empty dict."""
    path = find_pyproject(start)
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = data.get("tool", {}).get("listingeval", {})
    return table if isinstance(table, dict) else {}


def load_settings(start: Path | None = None) -> Settings:
    """Settings from the defaults and `[tool.listingeval]`; unknown keys are ignored."""
    table = project_table(start)
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in table.items() if k in known}
    try:
        return Settings(**values)
    except TypeError as exc:
        raise ConfigError(f"bad [tool.listingeval] setting: {exc}") from exc
