"""The gate's pure parts: the comparison engine, the verdict, coverage, delivery and the documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.cases import expectations_hash
from pytest_listingeval.compare import Side, SideCase, compare_sides
from pytest_listingeval.coverage import case_set, measure
from pytest_listingeval.delivery import FileSink, Sink, StepSummarySink, deliver
from pytest_listingeval.documents import DocumentError, parse_results
from pytest_listingeval.outcome import (
    Coverage,
    CriticalMiss,
    GatePolicy,
    IncompleteRun,
    RunConfig,
    RunInfo,
    RunOutcome,
    Summary,
)
from pytest_listingeval.verdict import GateInput, decide

CONFIG = RunConfig(model="m", task="pkg:task", output_model="Thing")


def _case(
    cid: str,
    expected: dict[str, Any],
    output: dict[str, Any] | None,
    scores: dict[str, float],
    harness_error: str | None = None,
) -> SideCase:
    return SideCase(
        id=cid,
        expectations=expectations_hash(expected, ()),
        expected=expected,
        critical=(),
        scores=scores,
        actuals={k: (output or {}).get(k) for k in scores},
        outputs=(output,),
        harness_error=harness_error,
    )


def _side(*cases: SideCase) -> Side:
    return Side(label="x", config=CONFIG, cases={c.id: c for c in cases})


# -- the comparison engine --------------------------------------------------------------


def test_reference_outputs_are_rescored_against_the_candidates_labels() -> None:
    """A relabel applies to both sides: the reference's stored answer is scored against the new label."""
    ref = _side(_case("a", {"kind": "drum"}, {"kind": "drum"}, {"kind": 1}))
    cand = _side(_case("a", {"kind": "harp"}, {"kind": "drum"}, {"kind": 0}))
    result = compare_sides(ref, cand)
    assert result.fields["kind"].baseline == 0.0 and result.fields["kind"].current == 0.0
    assert result.flips == ()
    assert [r.case for r in result.relabels] == ["a"]
    assert result.relabels[0].before == {"kind": "drum"} and result.relabels[0].after == {"kind": "harp"}


def test_a_changed_judge_rubric_is_unscorable_and_left_out() -> None:
    """A judge check needs a model: with its rubric changed the case is listed, not compared."""
    ref = _side(
        _case("a", {"blurb": {"judge": "old"}}, {"blurb": "x"}, {"blurb": 1}),
        _case("b", {"k": "v"}, {"k": "v"}, {"k": 1}),
    )
    cand = _side(
        _case("a", {"blurb": {"judge": "new"}}, {"blurb": "x"}, {"blurb": 0}),
        _case("b", {"k": "v"}, {"k": "v"}, {"k": 1}),
    )
    result = compare_sides(ref, cand)
    assert result.unscorable_cases == ("a",)
    assert result.shared_cases == 1 and "blurb" not in result.fields


def test_relabels_tell_added_and_removed_fields_from_null_specs() -> None:
    """A field dropped from the expectations is `removed`, not a spec changed to null."""
    ref = _side(_case("a", {"k": "v", "maker": None}, {"k": "v", "maker": None}, {"k": 1, "maker": 1}))
    cand = _side(_case("a", {"k": "v", "name": "x"}, {"k": "v", "name": "x"}, {"k": 1, "name": 1}))
    relabel = compare_sides(ref, cand).relabels[0]
    assert relabel.fields == ("maker", "name")
    assert relabel.removed == ("maker",) and relabel.added == ("name",)


def test_an_unchanged_judge_check_keeps_its_stored_score() -> None:
    """Same rubric: the stored judge score is reused on the reference side."""
    spec = {"blurb": {"judge": "same"}}
    result = compare_sides(
        _side(_case("a", spec, {"blurb": "x"}, {"blurb": 1})), _side(_case("a", spec, {"blurb": "y"}, {"blurb": 0}))
    )
    assert result.fields["blurb"].flipped_down == 1 and result.relabels == ()


def test_harness_error_cases_are_left_out_and_listed() -> None:
    """A case the harness could not run on either side is never a field regression."""
    ref = _side(_case("a", {"k": "v"}, {"k": "v"}, {"k": 1}), _case("b", {"k": "v"}, {"k": "v"}, {"k": 1}))
    cand = _side(
        _case("a", {"k": "v"}, None, {"k": 0}, harness_error="crash"), _case("b", {"k": "v"}, {"k": "v"}, {"k": 1})
    )
    result = compare_sides(ref, cand)
    assert result.errored_cases == ("a",)
    assert result.shared_cases == 1 and result.fields["k"].delta == 0


def test_repeat_rates_use_the_bootstrap_and_are_not_binarised() -> None:
    """Pass rates over repeats compare as rates (a paired bootstrap), not rounded to 0/1."""
    cases_ref = [_case(f"c{i}", {"k": "v"}, {"k": "v"}, {"k": 1}) for i in range(6)]
    cases_cand = [
        SideCase(**{**c.__dict__, "scores": {"k": 0.5}, "outputs": ({"k": "v"}, {"k": "w"})}) for c in cases_ref
    ]
    result = compare_sides(_side(*cases_ref), _side(*cases_cand))
    assert result.fields["k"].current == 0.5 and result.fields["k"].baseline == 1.0


# -- the verdict --------------------------------------------------------------------------


def _gate(**overrides: Any) -> GateInput:
    ref = _side(_case("a", {"k": "v"}, {"k": "v"}, {"k": 1}), _case("b", {"k": "v"}, {"k": "v"}, {"k": 1}))
    cand = _side(_case("a", {"k": "v"}, {"k": "v"}, {"k": 1}), _case("b", {"k": "v"}, {"k": "w"}, {"k": 0}))
    values: dict[str, Any] = {
        "policy": GatePolicy(),
        "config": CONFIG,
        "coverage": Coverage(case_set=2, selected=2),
        "harness_errors": (),
        "critical_misses": (),
        "comparison": compare_sides(ref, cand),
        "baseline_config": CONFIG,
        "gated": True,
    }
    values.update(overrides)
    return GateInput(**values)


def test_a_drop_is_a_regression_and_errors_win() -> None:
    """error > regression > inconclusive > pass."""
    assert decide(_gate()).verdict == "regression"
    assert decide(_gate(harness_errors=("x",))).verdict == "error"


def test_significant_mode_turns_a_noisy_drop_inconclusive() -> None:
    """One flip of two is not significant: inconclusive, not a regression."""
    decision = decide(_gate(policy=GatePolicy(mode="significant")))
    assert decision.verdict == "inconclusive" and decision.regressions == ()


def test_tolerance_allows_a_drop_up_to_it() -> None:
    """A 50-point drop passes a 50-point tolerance, fails a 49-point one."""
    assert decide(_gate(policy=GatePolicy(tolerance=0.5))).verdict == "pass"
    assert decide(_gate(policy=GatePolicy(tolerance=0.49))).verdict == "regression"


def test_partial_without_opt_in_is_an_error_and_with_it_is_gated() -> None:
    """Coverage decides partial; the opt-in gates the subset and keeps `partial`."""
    partial = Coverage(case_set=3, selected=2, not_selected=("c",), not_run=("c",))
    refused = decide(_gate(coverage=partial))
    assert refused.verdict == "error" and refused.partial
    assert "c" in " ".join(refused.errors)
    allowed = decide(_gate(coverage=partial, policy=GatePolicy(allow_subset=True)))
    assert allowed.verdict == "regression" and allowed.partial


def test_update_baseline_is_refused_for_a_partial_run_even_without_a_gate() -> None:
    """No baseline to compare with, but --update-baseline on part of the case set: refused."""
    partial = Coverage(case_set=3, selected=2, not_selected=("c",))
    decision = decide(_gate(coverage=partial, comparison=None, gated=False, update_baseline=True))
    assert decision.verdict == "error" and not decision.update_allowed


def test_a_foreign_task_and_too_few_shared_cases_are_errors() -> None:
    """A baseline of another task, or sharing fewer cases than the minimum, never passes."""
    other = CONFIG.model_copy(update={"task": "receipts:task"})
    assert "receipts:task" in " ".join(decide(_gate(baseline_config=other)).errors)
    assert decide(_gate(policy=GatePolicy(min_shared=3))).verdict == "error"


def test_a_critical_miss_is_a_regression_without_a_baseline() -> None:
    """Critical misses fail the run whatever the aggregate."""
    decision = decide(_gate(comparison=None, gated=False, critical_misses=(CriticalMiss(case="a", field="k"),)))
    assert decision.verdict == "regression"


# -- coverage -------------------------------------------------------------------------------


def test_case_set_follows_pytest_norecursedirs(tmp_path: Path) -> None:
    """Case files in folders pytest never enters are not part of the case set."""
    for rel in ("a.yaml", "sub/b.yml", "build/c.yaml", ".hidden/d.yaml", "sub/notes.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    assert case_set(tmp_path, ["build", ".*"]) == {"a", "sub/b"}


def test_measure_tells_removed_from_not_run() -> None:
    """Baseline cases whose files are gone are removed; existing ones left out are not run."""
    coverage = measure({"a", "b", "c"}, {"a"}, {"a", "b", "gone"})
    assert coverage.not_selected == ("b", "c")
    assert coverage.not_run == ("b",) and coverage.removed == ("gone",)
    assert coverage.partial


# -- delivery -------------------------------------------------------------------------------


def _outcome(errors: Sequence[str]) -> RunOutcome:
    return RunOutcome(
        run=RunInfo(id="r", time="t"),
        config=CONFIG,
        summary=Summary(cases=0, errors=0, overall=0.0, exact_cases=0.0),
        coverage=Coverage(case_set=0, selected=0),
        verdict="error" if errors else "pass",
        harness_errors=tuple(errors),
    )


@dataclass
class _Failing:
    label: str = "flaky output"

    def deliver(self, outcome: RunOutcome) -> str:
        raise RuntimeError("disk on fire")


def test_a_failing_output_rebuilds_the_outcome_and_rewrites_the_others(tmp_path: Path) -> None:
    """The first file is written as `pass`, then an output fails: it is rewritten as `error`."""
    first = tmp_path / "first.txt"
    sinks: list[Sink] = [
        FileSink("first", first, lambda o: o.verdict),
        _Failing(),
        FileSink("last", tmp_path / "last.txt", lambda o: o.verdict),
    ]
    delivered = deliver(_outcome, sinks)
    assert delivered.outcome.verdict == "error"
    assert "cannot write the flaky output: RuntimeError: disk on fire" in delivered.outcome.harness_errors
    assert first.read_text() == "error" and (tmp_path / "last.txt").read_text() == "error"
    assert set(delivered.written) == {"first", "last"}


def test_the_step_summary_is_replaced_not_appended_twice(tmp_path: Path) -> None:
    """Delivering twice leaves one summary of this run after what was there before."""
    path = tmp_path / "summary.md"
    path.write_text("earlier job\n", encoding="utf-8")
    sink = StepSummarySink(path, lambda o: f"verdict {o.verdict}")
    sink.deliver(_outcome(()))
    sink.deliver(_outcome(("x",)))
    assert path.read_text(encoding="utf-8") == "earlier job\nverdict error\n"


# -- documents --------------------------------------------------------------------------------


def test_documents_of_another_version_are_refused() -> None:
    """No version, or another one: a one-line reason instead of a guess."""
    with pytest.raises(DocumentError, match="no version"):
        parse_results(json.dumps({"verdict": "pass"}), "old.json")
    with pytest.raises(DocumentError, match="version 2"):
        parse_results(json.dumps({"version": 2}), "new.json")


def test_an_incomplete_marker_reads_as_such() -> None:
    """A results file still saying `incomplete` is a run that died."""
    marker = IncompleteRun(run=RunInfo(id="r", time="t"))
    parsed = parse_results(marker.model_dump_json(), "x.json")
    assert isinstance(parsed, IncompleteRun)


def test_an_outcome_round_trips() -> None:
    """The writer's text reads back as the same model."""
    outcome = _outcome(("x",))
    assert parse_results(outcome.model_dump_json(), "x.json") == outcome
