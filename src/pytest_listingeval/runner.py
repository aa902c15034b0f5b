"""Run one case: its cassette, the task, and the scoring; harness faults become results."""

from __future__ import annotations

import shlex
from pathlib import Path

from pytest_listingeval.cases import Case
from pytest_listingeval.cassettes import (
    CannotOverwriteExistingCassetteException,
    cassette_path,
    use_cassette,
)
from pytest_listingeval.results import CaseResult, harness_failure, score_case
from pytest_listingeval.settings import HarnessSettings
from pytest_listingeval.task import EvalTask, TaskDescription


def record_command(settings: HarnessSettings, case_id: str, mode: str) -> str:
    """The command that records this case's cassette for the current model and prompt."""
    parts = ["OPENAI_API_KEY=...", "pytest", "-m", "eval", f"--record-mode={mode}"]
    parts += ["--eval-model", settings.model, "--eval-prompt", settings.prompt, "-k", case_id]
    return " ".join(shlex.quote(p) if not p.startswith("OPENAI_API_KEY") else p for p in parts)


def image_label(settings: HarnessSettings, image: Path) -> str:
    """The image path relative to the project root when possible (for reports)."""
    try:
        return image.resolve().relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        return image.as_posix()


def run_case(settings: HarnessSettings, task: EvalTask, description: TaskDescription, case: Case) -> CaseResult:
    """Replay or record the case's cassette, call the task inside it, score the output."""
    label = image_label(settings, case.image)
    path = cassette_path(settings.cassettes_root, description.model, description.prompt_id, case.id)
    shown = image_label(settings, path)
    if settings.record_mode == "none" and not path.is_file():
        return harness_failure(
            case,
            case.id,
            f"missing cassette {shown} (model {description.model}, prompt {description.prompt_id}); "
            f"record it with: {record_command(settings, case.id, 'once')}",
            label,
        )
    try:
        with use_cassette(path, settings.record_mode):
            result = task.run(case.image, description.model, description.prompt)
    except CannotOverwriteExistingCassetteException:
        return harness_failure(
            case,
            case.id,
            f"stale cassette {shown}: it holds no answer for this request (the prompt text, schema, "
            f"parameters or image changed since it was recorded); re-record it with: "
            f"{record_command(settings, case.id, 'rewrite')}",
            label,
        )
    except Exception as exc:  # a crashing task must become a result, never silence
        return harness_failure(case, case.id, f"the task crashed: {type(exc).__name__}: {exc}", label)
    return score_case(case, result, label)
