"""Prompt templates: jinja2 files in `extractor/prompts/`, each with a content-derived id."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

from extractor.errors import ConfigError
from extractor.schema import Category, Color, Condition

_PROMPT_SUFFIX = ".j2"


@dataclass(frozen=True)
class Prompt:
    """A named prompt template; its id changes whenever its source text changes."""

    name: str
    source: str
    # A case's inputs, reachable in the template as `inputs` (empty in production).
    inputs: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        """`<name>-<first 8 hex of sha256 of the template source>`."""
        return f"{self.name}-{hashlib.sha256(self.source.encode()).hexdigest()[:8]}"

    def with_inputs(self, inputs: Mapping[str, Any]) -> Prompt:
        """The same template rendered with a case's inputs (its id does not change)."""
        return replace(self, inputs=dict(inputs))

    def render(self) -> str:
        """The instructions sent to the model."""
        if not self.inputs:
            return _render_plain(self.source)
        return _template(self.source).render(**_enums(), inputs=dict(self.inputs))


def _enums() -> dict[str, list[str]]:
    return {
        "categories": [c.value for c in Category],
        "colors": [c.value for c in Color],
        "conditions": [c.value for c in Condition],
    }


@lru_cache(maxsize=64)
def _template(source: str) -> jinja2.Template:
    # Compiling a template costs more than the rest of a replayed case's prompt work.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


@lru_cache(maxsize=64)
def _render_plain(source: str) -> str:
    # Without inputs the output depends only on the source text: render each source once.
    return _template(source).render(**_enums(), inputs={})


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
