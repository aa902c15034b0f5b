"""The EvalTask contract: a task class that names its own output model fits it; one without a model does not."""

from __future__ import annotations

import sys
import types

import pytest

from extractor.eval import ListingTask
from extractor.schema import Listing
from pytest_listingeval.task import CaseInput, EvalTask, TaskDescription, TaskLoadError, TaskResult, load_task

pytestmark = pytest.mark.unit


class Modelless:
    """Every method of a task, but no `output_model`."""

    def describe(self, model: str, prompt: str) -> TaskDescription:
        return TaskDescription(model, prompt, "p-1", "text", "s-1", {})

    def readiness_problem(self, recording: bool) -> str | None:
        return None

    def run(self, case: CaseInput, model: str, prompt: str) -> TaskResult:
        return TaskResult(output=None)


def _module_with(monkeypatch: pytest.MonkeyPatch, task: object) -> str:
    module = types.ModuleType("task_contract_probe")
    module.__dict__["task"] = task
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return f"{module.__name__}:task"


def test_a_task_class_with_its_own_model_class_is_an_eval_task(monkeypatch: pytest.MonkeyPatch) -> None:
    # mypy checks this assignment: `output_model = Listing` must fit the protocol's type[BaseModel].
    task: EvalTask = ListingTask()
    assert task.output_model is Listing
    assert load_task(_module_with(monkeypatch, task)) is task


def test_a_task_without_an_output_model_is_refused_naming_what_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _module_with(monkeypatch, Modelless())
    with pytest.raises(TaskLoadError, match="must provide output_model, describe, readiness_problem and run"):
        load_task(spec)
