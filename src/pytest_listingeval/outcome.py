"""The run's one typed outcome: configuration, summary, comparison, coverage and verdict.

Everything a run reports (terminal, results JSON, HTML, markdown, pytest-html, MLflow, run
record, exit status) is rendered from one `RunOutcome`, built once the verdict is decided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pytest_listingeval.judge_calibration import JudgeCalibration
from pytest_listingeval.results import CaseResult, Frozen

OUTCOME_VERSION = 1
Verdict = Literal["pass", "regression", "inconclusive", "error", "incomplete"]
GateMode = Literal["strict", "significant"]
GATE_MODES: tuple[GateMode, ...] = ("strict", "significant")
FAILING_VERDICTS: frozenset[str] = frozenset({"regression", "error", "incomplete"})
NOT_EXPECTED = "(not expected)"


class RunConfig(Frozen):
    """What was evaluated: model, prompt, schema, parameters, task, and the code's git state."""

    model: str
    prompt: str = ""
    prompt_id: str = ""
    schema_id: str = ""
    prompt_text: str = ""
    json_schema: dict[str, Any] = {}
    params: dict[str, Any] = {}
    judge_model: str | None = None
    repeat: int = 1
    task: str = ""
    output_model: str = ""
    git_sha: str | None = None
    git_dirty: bool = False


class FieldSummary(Frozen):
    """One field's accuracy over the scored cases that list it, with a 95% interval."""

    accuracy: float
    n: int
    ci_low: float = 0.0
    ci_high: float = 1.0


class Usage(Frozen):
    """Tokens spent by the run."""

    input_tokens: int = 0
    output_tokens: int = 0


class Latency(Frozen):
    """Per-case latency of the scored cases, in milliseconds."""

    p50: float = 0.0
    p95: float = 0.0
    mean: float = 0.0


class FlakyField(Frozen):
    """A (case, field) that passed in some repeats and failed in others."""

    case: str
    field: str
    pass_rate: float


class Summary(Frozen):
    """Aggregates over the cases the harness could score (harness errors are counted apart)."""

    cases: int
    errors: int
    harness_errors: int = 0
    overall: float
    exact_cases: float
    fields: dict[str, FieldSummary] = {}
    usage: Usage = Usage()
    repeats: int = 1
    flaky: tuple[FlakyField, ...] = ()
    latency_ms: Latency = Latency()
    duration_s: float = 0.0
    cost_usd: float | None = None


class FieldDelta(Frozen):
    """One field (or overall) on the cases both sides scored: accuracies, flips and paired p-values."""

    baseline: float
    current: float
    delta: float
    n: int
    flipped_down: int
    flipped_up: int
    p_value: float
    p_value_drop: float


class Flip(Frozen):
    """A (case, field) scored differently: `down` is right in the baseline and wrong now."""

    case: str
    field: str
    direction: Literal["down", "up"]
    baseline_actual: Any = None
    current_actual: Any = None


class Relabel(Frozen):
    """A shared case whose expectations changed since the baseline was written."""

    case: str
    fields: tuple[str, ...]
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    critical_changed: bool = False
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}

    def shown(self, name: str, render: Callable[[Any], str]) -> tuple[str, str]:
        """One changed field's spec before and after as text; a field added or dropped says so."""
        before = NOT_EXPECTED if name in self.added else render(self.before.get(name))
        after = NOT_EXPECTED if name in self.removed else render(self.after.get(name))
        return before, after


class ConfigChanges(Frozen):
    """What changed in the run configuration against the baseline."""

    model: tuple[str, str] | None = None
    prompt_id: tuple[str, str] | None = None
    prompt_diff: str = ""
    schema_id: tuple[str, str] | None = None
    schema_changes: tuple[str, ...] = ()
    params: dict[str, tuple[Any, Any]] = {}

    @property
    def empty(self) -> bool:
        """True when nothing changed at all."""
        return not (self.model or self.prompt_id or self.prompt_diff or self.schema_changes or self.params)


class Comparison(Frozen):
    """A run compared with a reference (the baseline, or run A in `runs compare`)."""

    shared_cases: int
    added_cases: tuple[str, ...] = ()
    removed_cases: tuple[str, ...] = ()
    errored_cases: tuple[str, ...] = ()
    unscorable_cases: tuple[str, ...] = ()
    unscorable_fields: dict[str, tuple[str, ...]] = {}
    relabels: tuple[Relabel, ...] = ()
    fields: dict[str, FieldDelta] = {}
    overall: FieldDelta
    exact_cases: FieldDelta
    flips: tuple[Flip, ...] = ()
    config_changes: ConfigChanges = ConfigChanges()

    @property
    def relabelled(self) -> tuple[str, ...]:
        """Ids of the shared cases whose expectations changed."""
        return tuple(r.case for r in self.relabels)


class BaselineInfo(Frozen):
    """The baseline as stored: where it came from, its configuration and its own summary."""

    source: str
    overall: float | None = None
    exact_cases: float | None = None
    fields: dict[str, FieldSummary] = {}
    config: RunConfig | None = None


class GatePolicy(Frozen):
    """How the gate judges a comparison (tolerance in accuracy units, 0..1)."""

    mode: GateMode = "strict"
    tolerance: float = 0.0
    alpha: float = 0.05
    min_shared: int = 1
    allow_subset: bool = False


def policy_changes(before: GatePolicy | None, now: GatePolicy) -> dict[str, tuple[Any, Any]]:
    """How the gate's policy differs from the one the baseline was written under (`allow_subset` is per run)."""
    if before is None:
        return {}
    keys = ("mode", "tolerance", "alpha", "min_shared")
    return {key: (getattr(before, key), getattr(now, key)) for key in keys if getattr(before, key) != getattr(now, key)}


class Coverage(Frozen):
    """Which cases of the case set and of the baseline this run covered."""

    case_set: int
    selected: int
    not_selected: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    not_run: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        """True when the run left out cases of the case set, or baseline cases no longer exist."""
        return bool(self.not_selected or self.removed)


class Regression(Frozen):
    """A field (or `overall`) that fell below the baseline by more than the tolerance."""

    field: str
    baseline: float
    current: float
    delta: float
    p_value_drop: float


class CriticalMiss(Frozen):
    """A critical field of a case that did not pass."""

    case: str
    field: str


class RunInfo(Frozen):
    """When and how the run was started, and on which case set."""

    id: str
    time: str
    command: str = ""
    case_set: str = ""


class RunOutcome(Frozen):
    """The final, versioned outcome of an eval run: the results JSON and the run record."""

    version: int = OUTCOME_VERSION
    run: RunInfo
    config: RunConfig
    summary: Summary
    cases: tuple[CaseResult, ...] = ()
    baseline: BaselineInfo | None = None
    comparison: Comparison | None = None
    policy: GatePolicy = GatePolicy()
    coverage: Coverage
    verdict: Verdict
    partial: bool = False
    relabelled: tuple[str, ...] = ()
    regressions: tuple[Regression, ...] = ()
    inconclusive: tuple[Regression, ...] = ()
    critical_misses: tuple[CriticalMiss, ...] = ()
    flaky: tuple[FlakyField, ...] = ()
    harness_errors: tuple[str, ...] = ()
    baseline_update: str | None = None
    policy_changes: dict[str, tuple[Any, Any]] = {}
    judge_calibration: tuple[JudgeCalibration, ...] = ()

    @property
    def judge_warnings(self) -> tuple[JudgeCalibration, ...]:
        """The judges the calibration file does not vouch for (warnings: the gate never reads them)."""
        return tuple(j for j in self.judge_calibration if j.warning)

    @property
    def failed(self) -> bool:
        """True when the run must exit non-zero."""
        return self.verdict in FAILING_VERDICTS


class IncompleteRun(Frozen):
    """What the results JSON says while a run is under way: a file still saying this means it died."""

    version: int = OUTCOME_VERSION
    run: RunInfo
    verdict: Literal["incomplete"] = "incomplete"
