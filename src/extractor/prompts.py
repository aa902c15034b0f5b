"""Prompt templates: jinja2 files in `extractor/prompts/`, each with a content-derived id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jinja2

from extractor.errors import ConfigError
from extractor.schema import Category, Color, Condition

_PROMPT_SUFFIX = ".j2"


@dataclass(frozen=True)
class Prompt:
    """A named prompt template; its id changes whenever its source text changes."""

    name: str
    source: str

    @property
    def id(self) -> str:
        """`<name>-<first 8 hex of sha256 of the template source>`."""
        return f"{self.name}-{hashlib.sha256(self.source.encode()).hexdigest()[:8]}"

    def render(self) -> str:
        """The instructions sent to the model."""
        return _render(self.source)


@lru_cache(maxsize=64)
def _render(source: str) -> str:
    # Compiling a template costs more than the rest of a replayed case's prompt work; the
    # output depends only on the source text, so render each source once per process.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source).render(
        categories=[c.value for c in Category],
        colors=[c.value for c in Color],
        conditions=[c.value for c in Condition],
    )


def available_prompts() -> list[str]:
    """Names of the prompt templates shipped in the package."""
    folder = resources.files("extractor") / "prompts"
    return sorted(
        entry.name.removesuffix(_PROMPT_SUFFIX) for entry in folder.iterdir() if entry.name.endswith(_PROMPT_SUFFIX)
    )


def load_prompt(name: str) -> Prompt:
    """Load the prompt template called `name`, or raise ConfigError naming the choices."""
    resource = resources.files("extractor") / "prompts" / f"{name}{_PROMPT_SUFFIX}"
    if "/" in name or not resource.is_file():
        choices = ", ".join(available_prompts())
        raise ConfigError(f"unknown prompt {name!r}; available prompts: {choices}")
    return Prompt(name=name, source=resource.read_text(encoding="utf-8"))
