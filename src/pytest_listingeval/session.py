"""Session state on each process, and the controller's end-of-run aggregation and gate."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.baseline import BaselineError, build_baseline, load_baseline, write_baseline
from pytest_listingeval.cases import Case, CaseError, load_case
from pytest_listingeval.gate import GateOutcome, compare, critical_misses
from pytest_listingeval.results import CaseResult, harness_failure, summarise
from pytest_listingeval.runner import image_label
from pytest_listingeval.settings import HarnessSettings
from pytest_listingeval.task import EvalTask, TaskDescription, TaskLoadError, load_task


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@dataclass
class EvalSession:
    """Per-process state: the task and, on the controller, every case's result."""

    settings: HarnessSettings
    is_eval_run: bool
    started: float = field(default_factory=time.monotonic)
    _task: EvalTask | None = None
    _description: TaskDescription | None = None
    seen_ids: dict[str, Path] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)  # nodeid -> case id
    results: dict[str, CaseResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # nodeid -> why it produced no result
    harness_errors: list[str] = field(default_factory=list)
    outcome: dict[str, Any] | None = None

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

    def load(self, path: Path) -> Case:
        """Load a case file and refuse duplicate ids."""
        case = load_case(path, self.settings.cases_root, self.task.output_model)
        other = self.seen_ids.get(case.id)
        if other is not None and other != path:
            raise CaseError(f"{path.as_posix()}: duplicate case id {case.id!r} (also {other.as_posix()})")
        self.seen_ids[case.id] = path
        return case

    def run_config(self) -> dict[str, Any]:
        """The run's configuration fingerprint (DESIGN section 6 `config` plus extras)."""
        d = self.description
        root = self.settings.root
        return {
            "model": d.model,
            "prompt": d.prompt,
            "prompt_id": d.prompt_id,
            "schema_id": d.schema_id,
            "prompt_text": d.prompt_text,
            "json_schema": d.json_schema,
            "params": d.params,
            "judge_model": self.settings.judge_model or d.model,
            "repeat": self.settings.repeat,
            "git_sha": _git(root, "rev-parse", "HEAD"),
            "git_dirty": bool(_git(root, "status", "--porcelain", "--untracked-files=no")),
        }

    def missing_result(self, nodeid: str, case_id: str) -> CaseResult:
        """A result for a collected case that never reported one (crashed worker, interrupt)."""
        why = self.failures.get(nodeid) or "no result was received (the worker crashed or the run was interrupted)"
        case: Case | None = None
        try:
            case = load_case(
                self.settings.root / nodeid.split("::", 1)[0],
                self.settings.cases_root,
                self.task.output_model,
            )
        except (CaseError, OSError):
            case = None
        label = image_label(self.settings, case.image) if case else None
        return harness_failure(case, case_id, why, label)

    def finish(self) -> dict[str, Any]:
        """Aggregate, compare with the baseline, decide the verdict, write every output."""
        for nodeid, case_id in self.expected.items():
            if case_id not in self.results:
                self.results[case_id] = self.missing_result(nodeid, case_id)
        results = sorted(self.results.values(), key=lambda r: r.id)
        errors = [f"{r.id}: {r.harness_error}" for r in results if r.harness_error]
        errors += self.harness_errors
        if not results:
            errors.append(
                "no eval case was collected: add cases/**/*.yaml "
                "(or check -k/-m and the [tool.listingeval] cases folder)"
            )
        config = self.run_config()
        summary = summarise(results)
        summary["duration_s"] = round(time.monotonic() - self.started, 3)
        summary["cost_usd"] = self._cost(summary["usage"])
        gate = GateOutcome(verdict="pass")
        baseline_info: dict[str, Any] | None = None
        if self.settings.baseline_ref:
            try:
                baseline = load_baseline(self.settings.baseline_ref, self.settings.root, self.settings.baseline_path)
            except BaselineError as exc:
                errors.append(str(exc))
            else:
                s = self.settings
                gate = compare(results, baseline, config, s.tolerance, s.gate_mode, s.alpha)
                bsum = baseline.data.get("summary", {})
                baseline_info = {
                    "source": baseline.source,
                    "overall": bsum.get("overall"),
                    "exact_cases": bsum.get("exact_cases"),
                    "fields": bsum.get("fields", {}),
                    "config": baseline.config,
                }
        gate.critical_misses = critical_misses(results)
        if errors:
            verdict = "error"
        elif gate.regressions or gate.critical_misses:
            verdict = "regression"
        else:
            verdict = gate.verdict
        self.outcome = {
            "config": config,
            "summary": summary,
            "cases": [r.to_dict() for r in results],
            "baseline": baseline_info,
            "comparison": gate.comparison,
            "verdict": verdict,
            "regressions": gate.regressions,
            "critical_misses": gate.critical_misses,
            "inconclusive": gate.inconclusive,
            "flaky": summary["flaky"],
            "harness_errors": errors,
        }
        if self.settings.update_baseline:
            self._update_baseline(results, config, summary, errors)
        return self.outcome

    def _update_baseline(
        self,
        results: list[CaseResult],
        config: dict[str, Any],
        summary: dict[str, Any],
        errors: list[str],
    ) -> None:
        assert self.outcome is not None
        if self.settings.partial_selection:
            self.outcome["baseline_update"] = (
                "refused: -k selected only part of the case set, and the baseline must hold every case"
            )
            errors.append("--update-baseline needs the whole case set (drop -k)")
            self.outcome["verdict"] = "error"
            return
        if errors:
            self.outcome["baseline_update"] = "refused: the run had harness errors"
            return
        write_baseline(self.settings.baseline_path, build_baseline(config, summary, results))
        self.outcome["baseline_update"] = f"wrote {image_label(self.settings, self.settings.baseline_path)}"

    def _cost(self, usage: dict[str, int]) -> float | None:
        price = self.settings.prices.get(self.settings.model)
        if not isinstance(price, dict):
            return None
        try:
            return round(
                usage["input_tokens"] * float(price.get("input_per_mtok", 0)) / 1e6
                + usage["output_tokens"] * float(price.get("output_per_mtok", 0)) / 1e6,
                6,
            )
        except (TypeError, ValueError):
            return None
