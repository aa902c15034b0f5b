"""Run one case: its cassette(s), the task, the judge, and the scoring; harness faults become results."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pytest_listingeval.cases import Case
from pytest_listingeval.cassettes import CassetteUse, NoRecordedAnswer, cassette_path, use_cassette
from pytest_listingeval.checks import CheckOutcome
from pytest_listingeval.results import CaseResult
from pytest_listingeval.scoring import Judge, harness_failure, merge_repeats, score_case
from pytest_listingeval.settings import HarnessSettings
from pytest_listingeval.task import EvalTask, TaskDescription, TaskResult, run_task, takes_image_only


def record_command(settings: HarnessSettings, case: Case, mode: str, env: Sequence[str] = ()) -> str:
    """The command that records this case's cassette for the current model and prompt.

    It names the case file, not `-k <id>`: -k matches substrings, so `-k music/violin` would
    also select (and under `rewrite`, re-record) `music/violin2`. `env` names the variables
    recording needs (a task's optional `record_env`), shown as `NAME=...` before the command.
    """
    parts = ["pytest", "-m", "eval", f"--record-mode={mode}", "--eval-model", settings.model]
    parts += ["--eval-prompt", settings.prompt]
    if settings.repeat > 1:
        parts += ["--eval-repeat", str(settings.repeat)]
    parts.append(image_label(settings, case.path))
    return "".join(f"{name}=... " for name in env) + shlex.join(parts)


def _record_env(task: EvalTask) -> tuple[str, ...]:
    """The variables the task says recording needs (optional `record_env`, e.g. its API key's name)."""
    names = getattr(task, "record_env", ())
    return tuple(name for name in names if isinstance(name, str)) if isinstance(names, list | tuple) else ()


def image_label(settings: HarnessSettings, image: Path) -> str:
    """The image path relative to the project root when possible (for reports)."""
    try:
        return image.resolve().relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        return image.as_posix()


def _judge_for(task: EvalTask, case: Case, model: str) -> Judge | None:
    judge = getattr(task, "judge", None)
    if judge is None:
        return None

    given: Any = case.image if takes_image_only(judge) else case.task_input()

    def run(rubric: str, field_name: str, actual: Any) -> CheckOutcome:
        passed, reason = judge(given, rubric, field_name, actual, model)
        return CheckOutcome("judge", bool(passed), str(reason))

    return run


CassetteContext = Callable[[Path, str], AbstractContextManager[CassetteUse]]


class ApiUnreachable(Exception):
    """The task failed while requests it sent to the API got no answer (refused, unresolved, timed out)."""

    def __init__(self, unanswered: int, task_error: str) -> None:
        super().__init__(task_error)
        self.unanswered = unanswered
        self.task_error = " ".join(task_error.split())


def run_case(
    settings: HarnessSettings,
    task: EvalTask,
    description: TaskDescription,
    case: Case,
    cassette_context: CassetteContext = use_cassette,
) -> CaseResult:
    """Run the case once per repeat, each in its own cassette, and merge the repeats."""
    runs = [_run_once(settings, task, description, case, r, cassette_context) for r in range(settings.repeat)]
    return merge_repeats(runs)


def _run_once(
    settings: HarnessSettings,
    task: EvalTask,
    description: TaskDescription,
    case: Case,
    repeat: int,
    cassette_context: CassetteContext,
) -> CaseResult:
    label = image_label(settings, case.image) if case.image else None
    path = cassette_path(settings.cassettes_root, description.model, description.prompt_id, case.id, repeat)
    shown = image_label(settings, path)
    judge = _judge_for(task, case, settings.judge_model or description.model)
    try:
        with cassette_context(path, settings.record_mode) as tape:
            if settings.record_mode == "none" and not tape.replayable:
                return harness_failure(
                    case,
                    case.id,
                    f"missing cassette {shown} (model {description.model}, prompt {description.prompt_id}); "
                    f"record it with: {record_command(settings, case, 'once', _record_env(task))}",
                    label,
                )
            result = _run_task(task, description, case, tape)
            return score_case(case, result, label, judge)
    except ApiUnreachable as exc:
        return harness_failure(case, case.id, _unreachable_message(settings, case, exc, _record_env(task)), label)
    except NoRecordedAnswer:
        return harness_failure(
            case,
            case.id,
            f"stale cassette {shown}: it holds no answer for this request (the prompt text, schema, "
            f"parameters or image changed since it was recorded); re-record it with: "
            f"{record_command(settings, case, 'rewrite', _record_env(task))}",
            label,
        )
    except Exception as exc:  # a crashing task must become a result, never silence
        return harness_failure(case, case.id, f"the task crashed: {type(exc).__name__}: {exc}", label)


def _run_task(task: EvalTask, description: TaskDescription, case: Case, tape: CassetteUse) -> TaskResult:
    """The task's result; ApiUnreachable (and nothing recorded) when it failed with requests unanswered.

    Decided from the HTTP traffic, not from the task's error type, so it holds for any task;
    a request that failed and then succeeded on a retry leaves a result without an error.
    """
    try:
        result = run_task(task, case.task_input(), description.model, description.prompt)
    except NoRecordedAnswer:
        raise
    except Exception as exc:
        if not tape.unanswered:
            raise
        tape.discard()
        raise ApiUnreachable(tape.unanswered, f"{type(exc).__name__}: {exc}") from exc
    if result.error is not None and tape.unanswered:
        tape.discard()
        raise ApiUnreachable(tape.unanswered, str(result.error.get("message") or result.error.get("type") or ""))
    return result


def _unreachable_message(settings: HarnessSettings, case: Case, failure: ApiUnreachable, env: Sequence[str]) -> str:
    requests = "1 request" if failure.unanswered == 1 else f"{failure.unanswered} requests"
    detail = f" (the task said: {failure.task_error})" if failure.task_error else ""
    return (
        f"the API could not be reached while recording: {requests} got no answer{detail}; "
        f"no cassette was written; record it again with: {record_command(settings, case, 'once', env)}"
    )
