"""Turn the outcome's case results into plain view objects for the templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_listingeval.outcome import Flip, RunOutcome
from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report.gate_view import rate_counts
from pytest_listingeval.results import CaseResult, CheckResult, FieldScore

GROUP_ORDER = {"down": 0, "up": 1, "error": 2, "mismatch": 3, "ok": 4}
GROUP_LABELS = {
    "down": "regressed",
    "up": "improved",
    "error": "error",
    "mismatch": "mismatch",
    "ok": "all right",
}
HARNESS_ERROR = "harness error"


@dataclass(frozen=True)
class CheckView:
    """One check outcome of a field, with its detail (a judge's reason for judge checks)."""

    check: str
    detail: str
    similarity: float | None
    passed: bool = False


@dataclass(frozen=True)
class RepeatView:
    """What one repeat answered for a field, and whether it passed."""

    passed: bool
    actual: str


@dataclass(frozen=True)
class FieldView:
    """Expected versus actual for one field of one case."""

    name: str
    ok: bool
    expected: str
    actual: str
    baseline_actual: str | None
    flip: str | None
    failed_checks: tuple[CheckView, ...]
    similarities: tuple[float, ...]
    score: float = 0.0
    passes: int | None = None
    repeat_count: int | None = None
    repeats: tuple[RepeatView, ...] = ()
    judge_checks: tuple[CheckView, ...] = ()

    @property
    def partial(self) -> bool:
        """Tell whether the field passed in some repeats and failed in others."""
        return 0 < self.score < 1

    @property
    def state(self) -> str:
        """CSS state of the row: ok, partial (flaky) or miss."""
        return "ok" if self.ok else ("partial" if self.partial else "miss")

    @property
    def rate(self) -> str | None:
        """Pass rate of a flaky field, e.g. 2/3 repeats (a percentage without counts); None otherwise."""
        if not self.partial:
            return None
        if self.passes is None or not self.repeat_count:
            return f"{fmt.pct(self.score)} of repeats"
        return f"{self.passes}/{self.repeat_count} repeats"

    @property
    def varied(self) -> bool:
        """Tell whether the repeats disagree (in outcome or in value), so each is worth showing."""
        return len({(r.passed, r.actual) for r in self.repeats}) > 1


@dataclass(frozen=True)
class CaseView:
    """One case as the report shows it."""

    id: str
    group: str
    image: str | None
    tags: tuple[str, ...]
    fields: tuple[FieldView, ...]
    error_type: str | None
    error_message: str | None
    latency_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    critical_fields: tuple[str, ...] = ()
    repeats: int = 1
    repeat_errors: int = 0
    relabelled: bool = False
    not_compared: str | None = None

    @property
    def mismatched(self) -> tuple[str, ...]:
        """Names of fields that did not pass in every repeat (flaky fields count)."""
        return tuple(f.name for f in self.fields if not f.ok)

    @property
    def flaky(self) -> tuple[str, ...]:
        """Names of fields that passed in some repeats and failed in others."""
        return tuple(f.name for f in self.fields if f.partial)

    @property
    def flipped(self) -> tuple[str, ...]:
        """Names of fields that flipped against the baseline."""
        return tuple(f.name for f in self.fields if f.flip)

    @property
    def notable(self) -> tuple[FieldView, ...]:
        """Fields that are wrong or flipped: shown first."""
        return tuple(f for f in self.fields if not f.ok or f.flip)

    @property
    def quiet(self) -> tuple[FieldView, ...]:
        """Fields that are right and did not flip: folded away."""
        return tuple(f for f in self.fields if f.ok and not f.flip)

    @property
    def group_label(self) -> str:
        """Human label of the case's group."""
        return GROUP_LABELS[self.group]


FlipKey = tuple[str, str]


def _check(check: CheckResult) -> CheckView:
    return CheckView(check.check, check.detail, check.similarity, check.passed)


def _field(case: CaseResult, name: str, scored: FieldScore, flip: Flip | None) -> FieldView:
    checks = [_check(c) for c in scored.checks]
    passes, count = rate_counts(scored.score, scored.repeat_scores, case.repeats)
    repeats: tuple[RepeatView, ...] = ()
    if scored.repeat_scores is not None and scored.repeat_actuals is not None:
        pairs = zip(scored.repeat_scores, scored.repeat_actuals, strict=False)
        repeats = tuple(RepeatView(bool(s), fmt.value_text(a)) for s, a in pairs)
    return FieldView(
        name=name,
        ok=scored.score >= 1,
        expected=fmt.spec_text(scored.expected),
        actual=fmt.value_text(scored.actual),
        baseline_actual=fmt.value_text(flip.baseline_actual) if flip else None,
        flip=flip.direction if flip else None,
        failed_checks=tuple(c for c in checks if not c.passed and c.check != "judge"),
        similarities=tuple(c.similarity for c in checks if c.similarity is not None),
        score=scored.score,
        passes=passes,
        repeat_count=count,
        repeats=repeats,
        judge_checks=tuple(c for c in checks if c.check == "judge"),
    )


def _error(case: CaseResult) -> tuple[str | None, str | None]:
    if case.harness_error is not None:
        return HARNESS_ERROR, case.harness_error
    if case.error:
        return str(case.error.get("type") or "error"), str(case.error.get("message") or "")
    return None, None


def _group(case: CaseResult, views: Sequence[FieldView]) -> str:
    directions = {v.flip for v in views}
    if "down" in directions:
        return "down"
    if "up" in directions:
        return "up"
    if case.error or case.harness_error is not None:
        return "error"
    if any(not v.ok for v in views):
        return "mismatch"
    return "ok"


def case_view(
    case: CaseResult,
    image: str | None = None,
    flips: Mapping[FlipKey, Flip] | None = None,
    critical: Sequence[str] = (),
    relabelled: bool = False,
    not_compared: str | None = None,
) -> CaseView:
    """Build the view of one case result; image is a ready data URI or None."""
    flips = flips or {}
    views = tuple(_field(case, name, scored, flips.get((case.id, name))) for name, scored in case.fields.items())
    error_type, error_message = _error(case)
    return CaseView(
        id=case.id,
        group=_group(case, views),
        image=image,
        tags=case.tags,
        fields=views,
        error_type=error_type,
        error_message=error_message,
        latency_ms=case.latency_ms if case.scored else None,
        input_tokens=case.usage.get("input_tokens") if case.usage else None,
        output_tokens=case.usage.get("output_tokens") if case.usage else None,
        critical_fields=tuple(critical),
        repeats=case.repeats,
        repeat_errors=case.repeat_errors,
        relabelled=relabelled,
        not_compared=not_compared,
    )


def not_compared_reasons(outcome: RunOutcome) -> dict[str, str]:
    """Why a case was left out of the comparison, by case id."""
    comparison = outcome.comparison
    if comparison is None:
        return {}
    reasons = {cid: "cannot be re-scored" for cid in comparison.unscorable_cases}
    reasons.update({cid: HARNESS_ERROR for cid in comparison.errored_cases})
    return reasons


def case_views(outcome: RunOutcome, images: Mapping[str, str | None]) -> list[CaseView]:
    """Build all case views ordered: regressions, improvements, errors, mismatches, the rest."""
    flips = {(f.case, f.field): f for f in outcome.comparison.flips} if outcome.comparison else {}
    critical: dict[str, list[str]] = {}
    for miss in outcome.critical_misses:
        critical.setdefault(miss.case, []).append(miss.field)
    relabelled = set(outcome.relabelled)
    if outcome.comparison:
        relabelled |= set(outcome.comparison.relabelled)
    left_out = not_compared_reasons(outcome)
    views = [
        case_view(c, images.get(c.id), flips, critical.get(c.id, ()), c.id in relabelled, left_out.get(c.id))
        for c in outcome.cases
    ]
    # sorted() is stable: within a group the harness's order is kept.
    return sorted(views, key=lambda v: GROUP_ORDER[v.group])
