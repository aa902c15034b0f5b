"""Session state on each process, and on the controller the end of the run: gather, decide, deliver."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_hex

import pytest

from pytest_listingeval.cases import Case, CaseError, load_case
from pytest_listingeval.cassettes import NO_FILTERS, CassetteFilters
from pytest_listingeval.check_model import CheckFactory
from pytest_listingeval.custom_checks import CheckRegistryError, custom_checks_in_use, gather
from pytest_listingeval.field_specs import SpecReader
from pytest_listingeval.outcome import IncompleteRun, RunConfig, RunInfo
from pytest_listingeval.results import CaseResult
from pytest_listingeval.runner import image_label
from pytest_listingeval.scoring import harness_failure
from pytest_listingeval.settings import HarnessSettings
from pytest_listingeval.task import EvalTask, TaskDescription, TaskLoadError, case_problem, load_task


def git(root: Path, *args: str) -> str | None:
    """Output of a git command in root, or None when git fails."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _new_run(started_at: datetime) -> RunInfo:
    return RunInfo(
        id=f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{token_hex(3)}",
        time=started_at.isoformat(timespec="seconds"),
        command=shlex.join(["pytest", *sys.argv[1:]]),
    )


@dataclass
class EvalSession:
    """Per-process state: the task and, on the controller, what every selected case produced."""

    settings: HarnessSettings
    pluginmanager: pytest.PytestPluginManager | None = None
    started: float = field(default_factory=time.monotonic)
    run: RunInfo = field(default_factory=lambda: _new_run(datetime.now(UTC)))
    _task: EvalTask | None = None
    _description: TaskDescription | None = None
    seen_ids: dict[str, Path] = field(default_factory=dict)
    selected: dict[str, str] = field(default_factory=dict)  # nodeid -> case id, as pytest selected them
    results: dict[str, CaseResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # nodeid -> why it produced no result
    collection_errors: list[str] = field(default_factory=list)
    startup_errors: list[str] = field(default_factory=list)
    no_cases_ran: bool = False
    cassette_filters: CassetteFilters = NO_FILTERS
    _custom_checks: dict[str, CheckFactory] | None = None

    @property
    def task(self) -> EvalTask:
        """The configured task, imported on first use."""
        if self._task is None:
            if not self.settings.task:
                raise pytest.UsageError("[tool.listingeval] task is not set (e.g. task = 'extractor.eval:task')")
            try:
                self._task = load_task(self.settings.task)
            except TaskLoadError as exc:
                raise pytest.UsageError(str(exc)) from exc
        return self._task

    @property
    def description(self) -> TaskDescription:
        """What the task sends for the selected model and prompt."""
        if self._description is None:
            if not self.settings.model:
                raise pytest.UsageError("no model: set [tool.listingeval] model or pass --eval-model")
            try:
                self._description = self.task.describe(self.settings.model, self.settings.prompt)
            except ValueError as exc:
                raise pytest.UsageError(str(exc)) from exc
        return self._description

    def check_ready(self) -> None:
        """Refuse to start recording without what the task needs (for example an API key)."""
        problem = self.task.readiness_problem(self.settings.recording)
        if problem:
            raise pytest.UsageError(problem)

    def custom_checks(self) -> dict[str, CheckFactory]:
        """This process's custom checks (hook implementations and entry points), gathered on first use."""
        if self._custom_checks is None:
            self._custom_checks = gather(self.pluginmanager)
        return self._custom_checks

    def spec_reader(self) -> SpecReader:
        """How the gate reads expectations to re-score stored outputs: this run's output model and custom checks."""
        try:
            output_model = self.task.output_model
        except pytest.UsageError:
            output_model = None
        try:
            custom = self.custom_checks()
        except CheckRegistryError:
            custom = {}
        return SpecReader(output_model, custom)

    def _load_case(self, path: Path) -> Case:
        try:
            custom = self.custom_checks()
        except CheckRegistryError as exc:
            raise CaseError(f"{path.as_posix()}: {exc}") from exc
        with custom_checks_in_use(custom):
            return load_case(path, self.settings.cases_root, self.task.output_model, self.settings.root)

    def load(self, path: Path) -> Case:
        """Load a case file (with this process's custom checks), let the task refuse it, refuse duplicate ids."""
        case = self._load_case(path)
        problem = case_problem(self.task, case.task_input())
        if problem:
            raise CaseError(f"{path.as_posix()}: {problem}")
        other = self.seen_ids.get(case.id)
        if other is not None and other != path:
            raise CaseError(f"{path.as_posix()}: duplicate case id {case.id!r} (also {other.as_posix()})")
        self.seen_ids[case.id] = path
        return case

    def incomplete(self) -> IncompleteRun:
        """What the results JSON says until the run ends."""
        return IncompleteRun(run=self.run)

    def run_config(self) -> RunConfig:
        """The run's configuration fingerprint (model and prompt names only when the task cannot describe them)."""
        root = self.settings.root
        try:
            d = self.description
            output_model = self.task.output_model
        except pytest.UsageError:
            return RunConfig(model=self.settings.model, prompt=self.settings.prompt, task=self.settings.task)
        return RunConfig(
            model=d.model,
            prompt=d.prompt,
            prompt_id=d.prompt_id,
            schema_id=d.schema_id,
            prompt_text=d.prompt_text,
            json_schema=d.json_schema,
            params=d.params,
            judge_model=self.settings.judge_model or d.model,
            repeat=self.settings.repeat,
            task=self.settings.task,
            output_model=output_model.__name__,
            git_sha=git(root, "rev-parse", "HEAD"),
            git_dirty=bool(git(root, "status", "--porcelain", "--untracked-files=no")),
        )

    def _missing_result(self, nodeid: str, case_id: str) -> CaseResult:
        """A result for a selected case that never reported one (crashed worker, interrupt)."""
        why = self.failures.get(nodeid) or "no result was received (the worker crashed or the run was interrupted)"
        case: Case | None = None
        try:
            case = self._load_case(self.settings.node_root / nodeid.split("::", 1)[0])
        except (CaseError, OSError, pytest.UsageError):
            case = None
        label = image_label(self.settings, case.image) if case and case.image else None
        return harness_failure(case, case_id, why, label)

    def gathered(self) -> list[CaseResult]:
        """Every selected case's result; a case that never reported one becomes a harness error."""
        for nodeid, case_id in self.selected.items():
            if case_id not in self.results:
                self.results[case_id] = self._missing_result(nodeid, case_id)
        return sorted(self.results.values(), key=lambda r: r.id)

    def elapsed(self) -> float:
        """Seconds since the session started."""
        return time.monotonic() - self.started

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """Estimated cost in USD from `[tool.listingeval.prices."<model>"]`, or None without a price."""
        price = self.settings.prices.get(self.settings.model)
        if not isinstance(price, dict):
            return None
        try:
            return round(
                input_tokens * float(price.get("input_per_mtok", 0)) / 1e6
                + output_tokens * float(price.get("output_per_mtok", 0)) / 1e6,
                6,
            )
        except (TypeError, ValueError):
            return None
