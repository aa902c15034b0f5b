"""The task contract: what the harness calls for each case, and how it is configured."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel


class TaskLoadError(Exception):
    """The configured task cannot be imported or does not follow the contract."""


@dataclass(frozen=True)
class TaskDescription:
    """What a task will send for a model and prompt: enough to fingerprint a run."""

    model: str
    prompt: str
    prompt_id: str
    prompt_text: str
    schema_id: str
    json_schema: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskResult:
    """The outcome of running a task on one case: an output or an error, and its cost."""

    output: dict[str, Any] | None
    error: dict[str, Any] | None = None
    latency_ms: int = 0
    usage: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class EvalTask(Protocol):
    """A task the harness can evaluate: the extractor is one implementation."""

    output_model: type[BaseModel]

    def describe(self, model: str, prompt: str) -> TaskDescription:
        """Fingerprint of the configuration; raises ValueError for an unknown model or prompt."""
        ...

    def readiness_problem(self, recording: bool) -> str | None:
        """Why the task cannot run now (for example no API key while recording), or None."""
        ...

    def run(self, image: Path, model: str, prompt: str) -> TaskResult:
        """Run the task on one image; API faults come back as `TaskResult.error`."""
        ...


def load_task(spec: str) -> EvalTask:
    """Import `module:attribute` and check it follows the EvalTask contract."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise TaskLoadError(f"task must look like 'package.module:attribute', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskLoadError(f"cannot import task module {module_name!r}: {exc}") from exc
    task = getattr(module, attribute, None)
    if task is None:
        raise TaskLoadError(f"{module_name!r} has no attribute {attribute!r}")
    if not isinstance(task, EvalTask):
        raise TaskLoadError(f"{spec} must provide output_model, describe, readiness_problem and run")
    return task
