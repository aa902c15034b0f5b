"""The task contract: what the harness calls for each case, and how it is configured."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
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
class CaseInput:
    """What a task gets for one case: its id, its image (when it gives one) and its named inputs.

    `inputs` holds the case file's `inputs:` values as written, except that each `{file: path}`
    entry is the resolved `Path` of that file (inside the project, checked at collection).
    """

    id: str
    image: Path | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        """The path of the file input `name`; KeyError or TypeError when there is no such file input."""
        value = self.inputs[name]
        if not isinstance(value, Path):
            raise TypeError(f"input {name!r} of case {self.id!r} is a value, not a file")
        return value

    def variables(self) -> dict[str, Any]:
        """The inputs as prompt-template variables: values as written, files as their path text."""
        return {name: str(value) if isinstance(value, Path) else value for name, value in self.inputs.items()}


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

    # Read-only, so a task may set it to its own model class (`output_model = Listing`).
    @property
    def output_model(self) -> type[BaseModel]:
        """The pydantic model of the structured output; cases may expect its fields."""
        ...

    # Optional, not part of the protocol check: `record_env` (names of the variables recording
    # needs, shown in the record commands the harness prints), `case_problem(case)` (refuse a
    # case at collection), `judge(case, rubric, field, value, model) -> (passed, reason)` (grade
    # a `judge` check; the image-only form takes `image` first).

    def describe(self, model: str, prompt: str) -> TaskDescription:
        """Fingerprint of the configuration; raises ValueError for an unknown model or prompt."""
        ...

    def readiness_problem(self, recording: bool) -> str | None:
        """Why the task cannot run now (for example no API key while recording), or None."""
        ...

    def run(self, case: CaseInput, model: str, prompt: str) -> TaskResult:
        """Run the task on one case; API faults come back as `TaskResult.error`.

        A task written for images only may take `run(image: Path, model, prompt)` instead (the
        first parameter named `image`): it gets the case's image, and a case without one is
        refused at collection.
        """
        ...


def takes_image_only(method: Any) -> bool:
    """Whether a task's `run` or `judge` is the image-only form (its first parameter is named `image`)."""
    try:
        parameters = list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0] == "image"


def case_problem(task: EvalTask, case: CaseInput) -> str | None:
    """Why `task` cannot run `case` (asked at collection), or None.

    An image-only task needs an image; a task may add its own rule with an optional
    `case_problem(case) -> str | None` method (for example inputs it requires).
    """
    if case.image is None and takes_image_only(task.run):
        return "the task takes an image (run(image, model, prompt)) and the case gives no 'image'"
    own = getattr(task, "case_problem", None)
    return own(case) if callable(own) else None


def run_task(task: EvalTask, case: CaseInput, model: str, prompt: str) -> TaskResult:
    """Call the task's `run` in the form it was written for."""
    if takes_image_only(task.run):
        return task.run(case.image, model, prompt)  # type: ignore[arg-type]
    return task.run(case, model, prompt)


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
