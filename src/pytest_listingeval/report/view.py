"""Turn a results dict (DESIGN section 6 plus extras) into plain view objects for templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report.gate_view import gate_info, inconclusive_views, rate_counts

GROUP_ORDER = {"down": 0, "up": 1, "error": 2, "mismatch": 3, "ok": 4}
GROUP_LABELS = {
    "down": "regressed",
    "up": "improved",
    "error": "error",
    "mismatch": "mismatch",
    "ok": "all right",
}


@dataclass(frozen=True)
class FieldRow:
    """One row of the per-field accuracy table."""

    name: str
    baseline: float | None
    current: float | None
    delta: float | None
    n: int | None
    flipped_down: int | None
    flipped_up: int | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    regressed: bool = False
    kind: str = "field"
    p_value_drop: float | None = None
    alpha: float = 0.05
    significant_mode: bool = False
    inconclusive: bool = False

    @property
    def p_shown(self) -> float | None:
        """The p the gate uses: one-sided (drop) in significant mode, two-sided otherwise."""
        return self.p_value_drop if self.significant_mode else self.p_value

    @property
    def significant(self) -> bool:
        """Tell whether the paired test calls the change significant at the gate's alpha."""
        return fmt.significant(self.p_shown, self.alpha)


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


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def field_rows(results: Mapping[str, Any]) -> list[FieldRow]:
    """Build per-field rows from the summary, the baseline and the comparison."""
    summary = results.get("summary") or {}
    current = summary.get("fields") or {}
    compared = (results.get("comparison") or {}).get("fields") or {}
    base_fields = (results.get("baseline") or {}).get("fields") or {}
    regressed = {r.get("field") for r in results.get("regressions") or []}
    inconclusive = {v.field for v in inconclusive_views(results)}
    gate = gate_info(results)
    names = list(current) + [n for n in compared if n not in current]
    rows = []
    for name in names:
        cur = current.get(name) or {}
        cmp_ = compared.get(name) or {}
        base = _num(cmp_.get("baseline", (base_fields.get(name) or {}).get("accuracy")))
        now = _num(cmp_.get("current", cur.get("accuracy")))
        delta = _num(cmp_.get("delta"))
        if delta is None and base is not None and now is not None:
            delta = now - base
        rows.append(
            FieldRow(
                name=name,
                baseline=base,
                current=now,
                delta=delta,
                n=_int(cmp_.get("n", cur.get("n"))),
                flipped_down=_int(cmp_.get("flipped_down")),
                flipped_up=_int(cmp_.get("flipped_up")),
                p_value=_num(cmp_.get("p_value")),
                ci_low=_num(cur.get("ci_low")),
                ci_high=_num(cur.get("ci_high")),
                regressed=name in regressed,
                p_value_drop=_num(cmp_.get("p_value_drop")),
                alpha=gate.alpha,
                significant_mode=gate.significant_mode,
                inconclusive=name in inconclusive,
            )
        )
    return rows


def aggregate_rows(results: Mapping[str, Any]) -> list[FieldRow]:
    """Build the overall and exact-case rows of the accuracy table."""
    summary = results.get("summary") or {}
    baseline = results.get("baseline") or {}
    comparison = results.get("comparison") or {}
    regressed = {r.get("field") for r in results.get("regressions") or []}
    overall = comparison.get("overall") or {}
    gate = gate_info(results)
    judged = {e.get("field"): e for e in [*(results.get("regressions") or []), *(results.get("inconclusive") or [])]}
    inconclusive = {v.field for v in inconclusive_views(results)}
    rows = []
    for key, label in (("overall", "overall"), ("exact_cases", "exact cases")):
        now = _num(summary.get(key))
        base = _num(baseline.get(key))
        if key == "overall":
            base = _num(overall.get("baseline", base))
            now = _num(overall.get("current", now))
        delta = _num(overall.get("delta")) if key == "overall" else None
        p_two = _num(overall.get("p_value")) if key == "overall" else None
        p_drop = (
            _num(overall.get("p_value_drop", (judged.get(key) or {}).get("p_value_drop"))) if key == "overall" else None
        )
        if delta is None and base is not None and now is not None:
            delta = now - base
        rows.append(
            FieldRow(
                name=label,
                baseline=base,
                current=now,
                delta=delta,
                n=_int(summary.get("cases")),
                flipped_down=None,
                flipped_up=None,
                p_value=p_two,
                ci_low=None,
                ci_high=None,
                regressed=key in regressed,
                kind="aggregate",
                p_value_drop=p_drop,
                alpha=gate.alpha,
                significant_mode=gate.significant_mode,
                inconclusive=key in inconclusive,
            )
        )
    return rows


def _flips(results: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    flips = (results.get("comparison") or {}).get("flips") or []
    return {(str(f.get("case")), str(f.get("field"))): f for f in flips}


def case_view(
    case: Mapping[str, Any],
    image: str | None = None,
    flips: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    critical: Sequence[str] = (),
) -> CaseView:
    """Build the view of one case result; image is a ready data URI or None."""
    case_id = str(case.get("id"))
    flips = flips or {}
    views = []
    for name, entry in (case.get("fields") or {}).items():
        flip = flips.get((case_id, name))
        checks = [
            CheckView(
                str(c.get("check", "")), str(c.get("detail") or ""), _num(c.get("similarity")), bool(c.get("passed"))
            )
            for c in entry.get("checks") or []
        ]
        sims = tuple(c.similarity for c in checks if c.similarity is not None)
        score = _num(entry.get("score")) or 0.0
        repeat_scores = entry.get("repeat_scores")
        passes, count = rate_counts(score, repeat_scores, case.get("repeats"))
        actuals = entry.get("repeat_actuals")
        repeats = (
            tuple(RepeatView(bool(s), fmt.value_text(a)) for s, a in zip(repeat_scores, actuals, strict=False))
            if isinstance(repeat_scores, list) and isinstance(actuals, list)
            else ()
        )
        views.append(
            FieldView(
                name=name,
                ok=score >= 1,
                expected=fmt.spec_text(entry.get("expected")),
                actual=fmt.value_text(entry.get("actual")),
                baseline_actual=fmt.value_text(flip.get("baseline_actual")) if flip else None,
                flip=str(flip.get("direction")) if flip else None,
                failed_checks=tuple(c for c in checks if not c.passed and c.check != "judge"),
                similarities=sims,
                score=score,
                passes=passes,
                repeat_count=count,
                repeats=repeats,
                judge_checks=tuple(c for c in checks if c.check == "judge"),
            )
        )
    error = case.get("error") or None
    directions = {v.flip for v in views}
    if "down" in directions:
        group = "down"
    elif "up" in directions:
        group = "up"
    elif error:
        group = "error"
    elif any(not v.ok for v in views):
        group = "mismatch"
    else:
        group = "ok"
    usage = case.get("usage") or {}
    return CaseView(
        id=case_id,
        group=group,
        image=image,
        tags=tuple(str(t) for t in case.get("tags") or []),
        fields=tuple(views),
        error_type=str(error.get("type") or "error") if error else None,
        error_message=str(error.get("message") or "") if error else None,
        latency_ms=_int(case.get("latency_ms")),
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        critical_fields=tuple(critical),
        repeats=_int(case.get("repeats")) or 1,
        repeat_errors=_int(case.get("repeat_errors")) or 0,
    )


def case_views(results: Mapping[str, Any], images: Mapping[str, str | None]) -> list[CaseView]:
    """Build all case views ordered: regressions, improvements, errors, mismatches, the rest."""
    flips = _flips(results)
    critical: dict[str, list[str]] = {}
    for miss in results.get("critical_misses") or []:
        critical.setdefault(str(miss.get("case")), []).append(str(miss.get("field")))
    views = [
        case_view(c, images.get(str(c.get("id"))), flips, critical.get(str(c.get("id")), ()))
        for c in results.get("cases") or []
    ]
    # sorted() is stable: within a group the harness's order is kept.
    return sorted(views, key=lambda v: GROUP_ORDER[v.group])


def verdict_reasons(results: Mapping[str, Any]) -> list[str]:
    """Explain the verdict in short phrases (regressed fields, inconclusive drops, critical misses, errors)."""
    reasons = []
    for reg in results.get("regressions") or []:
        delta = (_num(reg.get("current")) or 0.0) - (_num(reg.get("baseline")) or 0.0)
        reasons.append(
            f"{reg.get('field')} {fmt.pct(reg.get('baseline'))} \u2192 "
            f"{fmt.pct(reg.get('current'))} ({fmt.points(delta)} pts)"
        )
    reasons.extend(v.sentence() for v in inconclusive_views(results))
    for miss in results.get("critical_misses") or []:
        reasons.append(f"critical miss: {miss.get('case')} ({miss.get('field')})")
    errors = len(results.get("harness_errors") or [])
    if errors:
        reasons.append(f"{errors} harness error{'s' if errors != 1 else ''}")
    return reasons
