"""The end of an eval run on the controller: gather, compare, decide once, then deliver everywhere.

Order matters: every fault that can be known before anything is rendered (unreadable
baseline, unwritable output path, MLflow unreachable, cases that never reported) is a
harness error before the verdict is decided; the baseline is written only from a run
that passed that decision; the outputs are then delivered from the final outcome.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pytest_listingeval.baseline import Baseline, BaselineError, build_baseline, load_baseline, write_baseline
from pytest_listingeval.compare import compare_sides, side_from_baseline, side_from_results
from pytest_listingeval.coverage import case_set, measure
from pytest_listingeval.delivery import (
    Delivery,
    FileSink,
    MlflowSink,
    RunRecordSink,
    Sink,
    StepSummarySink,
    deliver,
    writable,
)
from pytest_listingeval.documents import results_text
from pytest_listingeval.judge_calibration import judge_calibrations
from pytest_listingeval.mlflow_log import MlflowRun, mlflow_enabled
from pytest_listingeval.outcome import BaselineInfo, CriticalMiss, GatePolicy, RunOutcome, Summary, policy_changes
from pytest_listingeval.results import CaseResult
from pytest_listingeval.runner import image_label
from pytest_listingeval.session import EvalSession
from pytest_listingeval.summary import summarise
from pytest_listingeval.verdict import Decision, GateInput, coverage_problems, decide


@dataclass(frozen=True)
class Finished:
    """The delivered outcome and, when one was opened, the MLflow run id."""

    delivery: Delivery
    mlflow_run_id: str | None = None


def case_set_hash(results: Sequence[CaseResult]) -> str:
    """sha256 (first 12 hex) of the case ids and their expectations: same set, same hash."""
    canonical = json.dumps(sorted((r.id, r.expectations or "") for r in results))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def policy_of(state: EvalSession) -> GatePolicy:
    """The gate policy from the settings."""
    s = state.settings
    return GatePolicy(
        mode="significant" if s.gate_mode == "significant" else "strict",
        tolerance=s.tolerance,
        alpha=s.alpha,
        min_shared=s.min_shared,
        allow_subset=s.allow_subset,
    )


def _no_case_message(state: EvalSession) -> str:
    folder = image_label(state.settings, state.settings.cases_root)
    return (
        f"no eval case was collected: looked for *.yaml case files in {folder}/ "
        "(add cases there, set [tool.listingeval] cases, or check -k/-m and the paths given)"
    )


def _open_mlflow(state: EvalSession, errors: list[str]) -> MlflowRun | None:
    if not mlflow_enabled(state.settings.mlflow):
        return None
    try:
        return MlflowRun(state.run.id)
    except Exception as exc:  # mlflow raises many types (connection, REST, store errors)
        first = str(exc).strip().splitlines()
        errors.append(f"MLflow logging failed: {type(exc).__name__}" + (f": {first[0]}" if first else ""))
        return None


def _sinks(state: EvalSession, mlflow: MlflowRun | None) -> list[Sink]:
    from pytest_listingeval.report.html import render_html
    from pytest_listingeval.report.markdown import render_markdown

    s = state.settings
    sinks: list[Sink] = []
    if s.json_path is not None:
        sinks.append(FileSink("results JSON", s.json_path, results_text))
    if s.report_path is not None:
        sinks.append(FileSink("HTML report", s.report_path, lambda o: render_html(o, s.root)))
    if s.markdown_path is not None:
        sinks.append(FileSink("markdown", s.markdown_path, lambda o: render_markdown(o, s.report_url)))
    if s.runs_dir is not None:
        sinks.append(RunRecordSink(s.runs_dir))
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        sinks.append(StepSummarySink(Path(summary_path), lambda o: render_markdown(o, s.report_url)))
    if mlflow is not None:
        files = [s.json_path, s.report_path, s.markdown_path]
        sinks.append(MlflowSink(mlflow, lambda: [p for p in files if p is not None and p.is_file()]))
    return sinks


def _known_faults(state: EvalSession, results: Sequence[CaseResult], interrupted: str | None) -> list[str]:
    """Every harness fault known once the cases have run."""
    errors = [*state.startup_errors, *state.collection_errors]
    errors += [f"{r.id}: {r.harness_error}" for r in results if r.harness_error]
    if interrupted:
        errors.append(interrupted)
    if not results:
        errors.append(_no_case_message(state))
    return errors


def _baseline(state: EvalSession, errors: list[str]) -> Baseline | None:
    s = state.settings
    if not s.baseline_ref:
        return None
    try:
        return load_baseline(s.baseline_ref, s.root, s.baseline_path, s.invocation_dir)
    except BaselineError as exc:
        errors.append(str(exc))
        return None


def finish(state: EvalSession, norecursedirs: Sequence[str], interrupted: str | None = None) -> Finished:
    """Decide the run's verdict once and deliver it to every output."""
    s = state.settings
    results = state.gathered()
    config = state.run_config()
    tokens = [sum(r.usage.get(k, 0) for r in results) for k in ("input_tokens", "output_tokens")]
    summary = summarise(results, state.elapsed(), state.cost(*tokens))
    errors = _known_faults(state, results, interrupted)
    baseline = _baseline(state, errors)
    selected = set(state.selected.values()) | set(state.results)
    coverage = measure(
        case_set(s.cases_root, norecursedirs), selected, baseline.document.cases.keys() if baseline else None
    )
    comparison = None
    if baseline is not None:
        reference = side_from_baseline(baseline.source, baseline.document)
        current = side_from_results("current", config, results)
        comparison = compare_sides(reference, current, reader=state.spec_reader())
    for path in (s.report_path, s.markdown_path, s.json_path):
        if path is not None and (problem := writable(path)):
            errors.append(problem)
    mlflow = _open_mlflow(state, errors)
    gate = GateInput(
        policy=policy_of(state),
        config=config,
        coverage=coverage,
        harness_errors=tuple(errors),
        critical_misses=tuple(CriticalMiss(case=r.id, field=f) for r in results if r.scored for f in r.critical_misses),
        comparison=comparison,
        baseline_config=baseline.document.config if baseline else None,
        gated=baseline is not None,
        update_baseline=s.update_baseline,
    )
    update_note = _update_baseline(state, gate, decide(gate), results, summary)
    if update_note.startswith("cannot"):
        gate = replace(gate, harness_errors=(*gate.harness_errors, update_note))
    run = state.run.model_copy(update={"case_set": case_set_hash(results)})
    judges = judge_calibrations(results, s.judge_calibration, image_label(s, s.judge_calibration), s.judge_min_kappa)
    info = (
        BaselineInfo(
            source=baseline.source,
            overall=baseline.document.summary.overall,
            exact_cases=baseline.document.summary.exact_cases,
            fields=baseline.document.summary.fields,
            config=baseline.document.config,
        )
        if baseline
        else None
    )

    def build(extra: Sequence[str]) -> RunOutcome:
        decision: Decision = decide(replace(gate, harness_errors=(*gate.harness_errors, *extra)))
        return RunOutcome(
            run=run,
            config=config,
            summary=summary,
            cases=tuple(results),
            baseline=info,
            comparison=comparison,
            policy=gate.policy,
            coverage=coverage,
            verdict=decision.verdict,
            partial=decision.partial,
            relabelled=comparison.relabelled if comparison else (),
            regressions=decision.regressions,
            inconclusive=decision.inconclusive,
            critical_misses=tuple(gate.critical_misses),
            flaky=summary.flaky,
            harness_errors=decision.errors,
            baseline_update=update_note or None,
            policy_changes=policy_changes(baseline.document.policy, gate.policy) if baseline else {},
            judge_calibration=judges,
        )

    delivery = deliver(build, _sinks(state, mlflow))
    if mlflow is not None:
        mlflow.close(ok="MLflow run" in delivery.written)
    return Finished(delivery, mlflow.run_id if mlflow is not None else None)


def _update_baseline(
    state: EvalSession, gate: GateInput, decision: Decision, results: list[CaseResult], summary: Summary
) -> str:
    """Write the baseline when the decision allows it; say what happened ('' when not asked)."""
    s = state.settings
    if not s.update_baseline:
        return ""
    if not decision.update_allowed:
        if coverage_problems(gate.coverage):
            return "refused: the run did not cover the whole case set"
        return "refused: the run had harness errors"
    try:
        write_baseline(s.baseline_path, build_baseline(gate.config, summary, results, gate.policy))
    except OSError as exc:
        return f"cannot write the baseline {s.baseline_path}: {exc.strerror or exc}"
    return f"wrote {image_label(s, s.baseline_path)}"
