"""What every output says about the run as a whole: the verdict's reasons, coverage, relabels, cases left out."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report.gate_view import inconclusive_views


def plural(count: int, word: str, many: str | None = None) -> str:
    """Say `1 case` or `3 cases`."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


UNSCORABLE = "changed judge rubric or no stored output, cannot be re-scored offline"


@dataclass(frozen=True)
class IdList:
    """A labelled list of case ids (cases not run, relabelled, not compared)."""

    key: str
    label: str
    ids: tuple[str, ...]

    def head(self, limit: int) -> tuple[tuple[str, ...], int]:
        """The first `limit` ids and how many more there are."""
        return self.ids[:limit], max(0, len(self.ids) - limit)


@dataclass(frozen=True)
class CoverageView:
    """A partial run: how many cases of the case set ran, and which ones did not."""

    selected: int
    case_set: int
    removed: int
    lists: tuple[IdList, ...]

    @property
    def label(self) -> str:
        """Short phrase for a headline, e.g. `partial: 3 of 58 cases`."""
        text = f"partial: {self.selected} of {plural(self.case_set, 'case')}"
        if self.removed:
            text += f", {plural(self.removed, 'baseline case')} gone"
        return text


def coverage_view(outcome: RunOutcome) -> CoverageView | None:
    """The coverage of a partial run (None when the run covered the whole case set and baseline)."""
    if not outcome.partial:
        return None
    coverage = outcome.coverage
    not_run = set(coverage.not_run)
    others = tuple(cid for cid in coverage.not_selected if cid not in not_run)
    candidates = (
        IdList("not-run", "in the baseline, not run", coverage.not_run),
        IdList("not-selected", "in the case set, not selected", others),
        IdList("removed", "in the baseline, no longer in the case set", coverage.removed),
    )
    return CoverageView(
        selected=coverage.selected,
        case_set=coverage.case_set,
        removed=len(coverage.removed),
        lists=tuple(item for item in candidates if item.ids),
    )


@dataclass(frozen=True)
class LabelChange:
    """One field's expected spec before and after a relabel."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RelabelView:
    """A shared case whose expectations changed since the baseline was written."""

    case: str
    changes: tuple[LabelChange, ...]
    critical_changed: bool


def relabel_views(outcome: RunOutcome) -> list[RelabelView]:
    """Every relabelled case with each changed field's spec before and after."""
    relabels = outcome.comparison.relabels if outcome.comparison else ()
    views = [
        RelabelView(
            case=r.case,
            changes=tuple(LabelChange(name, *r.shown(name, fmt.spec_text)) for name in r.fields),
            critical_changed=r.critical_changed,
        )
        for r in relabels
    ]
    described = {r.case for r in relabels}
    # A relabelled id the comparison holds no details for is still listed, so none goes unseen.
    views += [RelabelView(cid, (), False) for cid in outcome.relabelled if cid not in described]
    return views


def not_compared(outcome: RunOutcome) -> list[IdList]:
    """Shared cases left out of the comparison: a changed judge rubric, or a harness error."""
    comparison = outcome.comparison
    if comparison is None:
        return []
    lists = (
        IdList("unscorable", UNSCORABLE, comparison.unscorable_cases),
        IdList("errored", "harness error, left out of the comparison", comparison.errored_cases),
    )
    return [item for item in lists if item.ids]


def error_counts(outcome: RunOutcome) -> str:
    """The case errors and the harness errors side by side, e.g. `2 errors · 1 harness error`."""
    summary = outcome.summary
    return f"{plural(summary.errors, 'error')} \u00b7 {plural(summary.harness_errors, 'harness error')}"


def policy_change_text(outcome: RunOutcome) -> str | None:
    """The gate policy changes since the baseline as one phrase, or None when it is the same."""
    parts = []
    for key, (old, new) in outcome.policy_changes.items():
        if key == "tolerance":
            parts.append(f"tolerance {fmt.share_points(old)} \u2192 {fmt.share_points(new)} pts")
        else:
            parts.append(f"{key.replace('_', ' ')} {old} \u2192 {new}")
    return "gate policy changed since the baseline: " + "; ".join(parts) if parts else None


def judge_warnings(outcome: RunOutcome) -> list[str]:
    """One sentence per judge rubric whose calibration is missing or too weak (warnings, never verdict reasons)."""
    return [
        f"judge on {j.field} (rubric {j.rubric_version}, {plural(j.cases, 'case')}): {j.warning}"
        for j in outcome.judge_warnings
    ]


def verdict_reasons(outcome: RunOutcome) -> list[str]:
    """Explain the verdict in short phrases (regressed fields, inconclusive drops, critical misses, errors)."""
    reasons = [
        f"{reg.field} {fmt.pct(reg.baseline)} \u2192 {fmt.pct(reg.current)} ({fmt.points(reg.delta)} pts)"
        for reg in outcome.regressions
    ]
    reasons.extend(v.sentence() for v in inconclusive_views(outcome))
    reasons.extend(f"critical miss: {m.case} ({m.field})" for m in outcome.critical_misses)
    if outcome.harness_errors:
        reasons.append(plural(len(outcome.harness_errors), "harness error"))
    if changed := policy_change_text(outcome):
        reasons.append(changed)
    return reasons
