"""Turn a results dict (DESIGN section 6 plus extras) into plain view objects for templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_listingeval.report import formatting as fmt

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

    @property
    def significant(self) -> bool:
        """Tell whether the paired test calls the change significant."""
        return fmt.significant(self.p_value)


@dataclass(frozen=True)
class CheckView:
    """One failed check of a field, with its detail."""

    check: str
    detail: str
    similarity: float | None


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

    @property
    def mismatched(self) -> tuple[str, ...]:
        """Names of fields that scored 0."""
        return tuple(f.name for f in self.fields if not f.ok)

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


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff with its kind: add, del, hunk, meta or ctx."""

    kind: str
    text: str


@dataclass
class ConfigChanges:
    """What changed in the configuration against the baseline."""

    model: tuple[str, str] | None = None
    prompt_id: tuple[str, str] | None = None
    prompt_diff: list[DiffLine] = field(default_factory=list)
    schema_changes: list[str] = field(default_factory=list)
    params: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Tell whether nothing changed at all."""
        return not (self.model or self.prompt_id or self.prompt_diff or self.schema_changes or self.params)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pair(value: Any) -> tuple[str, str] | None:
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return (fmt.value_text(value[0]), fmt.value_text(value[1]))
    return None


def diff_lines(diff: str) -> list[DiffLine]:
    """Split a unified diff into classified lines for +/- colouring."""
    lines = []
    for text in diff.splitlines():
        if text.startswith(("+++", "---")):
            kind = "meta"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("+"):
            kind = "add"
        elif text.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append(DiffLine(kind, text))
    return lines


def config_changes(results: Mapping[str, Any]) -> ConfigChanges | None:
    """Collect the configuration changes against the baseline, or None without a comparison."""
    comparison = results.get("comparison") or {}
    raw = comparison.get("config_changes")
    if not isinstance(raw, Mapping):
        return None
    params = raw.get("params") or {}
    return ConfigChanges(
        model=_pair(raw.get("model")),
        prompt_id=_pair(raw.get("prompt_id")),
        prompt_diff=diff_lines(raw.get("prompt_diff") or ""),
        schema_changes=[str(s) for s in raw.get("schema_changes") or []],
        params=[(str(name), *pair) for name, value in sorted(params.items()) if (pair := _pair(value)) is not None],
    )


def field_rows(results: Mapping[str, Any]) -> list[FieldRow]:
    """Build per-field rows from the summary, the baseline and the comparison."""
    summary = results.get("summary") or {}
    current = summary.get("fields") or {}
    compared = (results.get("comparison") or {}).get("fields") or {}
    base_fields = (results.get("baseline") or {}).get("fields") or {}
    regressed = {r.get("field") for r in results.get("regressions") or []}
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
    rows = []
    for key, label in (("overall", "overall"), ("exact_cases", "exact cases")):
        now = _num(summary.get(key))
        base = _num(baseline.get(key))
        if key == "overall":
            base = _num(overall.get("baseline", base))
            now = _num(overall.get("current", now))
        delta = _num(overall.get("delta")) if key == "overall" else None
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
                p_value=None,
                ci_low=None,
                ci_high=None,
                regressed=key in regressed,
                kind="aggregate",
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
        checks = entry.get("checks") or []
        failed = tuple(
            CheckView(str(c.get("check", "")), str(c.get("detail") or ""), _num(c.get("similarity")))
            for c in checks
            if not c.get("passed")
        )
        sims = tuple(s for c in checks if (s := _num(c.get("similarity"))) is not None)
        views.append(
            FieldView(
                name=name,
                ok=bool(entry.get("score")),
                expected=fmt.spec_text(entry.get("expected")),
                actual=fmt.value_text(entry.get("actual")),
                baseline_actual=fmt.value_text(flip.get("baseline_actual")) if flip else None,
                flip=str(flip.get("direction")) if flip else None,
                failed_checks=failed,
                similarities=sims,
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
    """Explain the verdict in short phrases (regressed fields, critical misses, errors)."""
    reasons = []
    for reg in results.get("regressions") or []:
        delta = (_num(reg.get("current")) or 0.0) - (_num(reg.get("baseline")) or 0.0)
        reasons.append(
            f"{reg.get('field')} {fmt.pct(reg.get('baseline'))} \u2192 "
            f"{fmt.pct(reg.get('current'))} ({fmt.points(delta)} pts)"
        )
    for miss in results.get("critical_misses") or []:
        reasons.append(f"critical miss: {miss.get('case')} ({miss.get('field')})")
    errors = len(results.get("harness_errors") or [])
    if errors:
        reasons.append(f"{errors} harness error{'s' if errors != 1 else ''}")
    return reasons
