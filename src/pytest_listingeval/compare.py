"""The one comparison engine, used by the gate and by `listingeval runs compare`.

Both sides are reduced to `Side`s. On every shared case the reference side's stored
outputs are re-scored against the candidate's expectations, so a relabel (a changed
expected value, a loosened check, a removed field) applies to both sides alike; cases
whose expectations changed are listed as relabels. Cases the harness could not run on
either side are left out and listed; so are cases whose changed judge rubric cannot be
re-scored offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_listingeval.baseline import BaselineDocument
from pytest_listingeval.changes import config_changes
from pytest_listingeval.field_specs import SpecReader, offline_reader
from pytest_listingeval.outcome import Comparison, FieldDelta, Flip, Relabel, RunConfig
from pytest_listingeval.plain import jsonable
from pytest_listingeval.results import CaseResult
from pytest_listingeval.scoring import NotRescorable, rescore_field
from pytest_listingeval.stats import clustered_drop_p_value, compare_field, compare_field_rates


@dataclass(frozen=True)
class SideCase:
    """One case of one side: what it expected, what the task answered and how it scored."""

    id: str
    expectations: str | None
    expected: Mapping[str, Any]
    critical: tuple[str, ...]
    scores: Mapping[str, float]
    actuals: Mapping[str, Any]
    outputs: tuple[dict[str, Any] | None, ...] | None
    error: str | None = None
    harness_error: str | None = None


@dataclass(frozen=True)
class Side:
    """One side of a comparison, whatever document it came from."""

    label: str
    config: RunConfig
    cases: Mapping[str, SideCase] = field(default_factory=dict)


def side_from_results(label: str, config: RunConfig, results: Iterable[CaseResult]) -> Side:
    """A run's case results as a comparison side."""
    cases = {
        r.id: SideCase(
            id=r.id,
            expectations=r.expectations,
            expected=r.expected,
            critical=r.critical,
            scores={name: s.score for name, s in r.fields.items()},
            actuals={name: s.actual for name, s in r.fields.items()},
            outputs=r.outputs if r.scored else None,
            error=str(r.error.get("type") or "error") if r.error else None,
            harness_error=r.harness_error,
        )
        for r in results
    }
    return Side(label=label, config=config, cases=cases)


def side_from_baseline(label: str, document: BaselineDocument) -> Side:
    """A baseline document as a comparison side."""
    cases = {
        cid: SideCase(
            id=cid,
            expectations=case.expectations,
            expected=case.expected,
            critical=case.critical,
            scores={name: f.score for name, f in case.fields.items()},
            actuals={name: f.actual for name, f in case.fields.items()},
            outputs=case.outputs,
            error=case.error,
        )
        for cid, case in document.cases.items()
    }
    return Side(label=label, config=document.config, cases=cases)


def _is_binary(values: Iterable[float]) -> bool:
    return all(float(v) in (0.0, 1.0) for v in values)


def _delta(before: Mapping[str, float], now: Mapping[str, float]) -> FieldDelta:
    """Exact McNemar on 0/1 scores; a paired bootstrap when either side has repeat pass rates."""
    if _is_binary(before.values()) and _is_binary(now.values()):
        result = compare_field({k: int(v) for k, v in before.items()}, {k: int(now[k]) for k in before}, 0.0, 0.5)
    else:
        result = compare_field_rates(before, now, 0.0, 0.5)
    return FieldDelta(
        baseline=round(result.baseline_accuracy, 6),
        current=round(result.current_accuracy, 6),
        delta=round(result.delta, 6),
        n=result.n,
        flipped_down=result.flipped_down,
        flipped_up=result.flipped_up,
        p_value=round(result.p_value, 6),
        p_value_drop=round(result.p_value_drop, 6),
    )


def _overall(pairs: Mapping[str, Mapping[str, tuple[float, float]]]) -> FieldDelta:
    """Micro accuracy over (case, field) pairs; its significance resamples whole cases, not pairs."""
    before = {f"{cid}::{name}": b for cid, fields in pairs.items() for name, (b, _) in fields.items()}
    now = {f"{cid}::{name}": c for cid, fields in pairs.items() for name, (_, c) in fields.items()}
    pooled = _delta(before, now)
    p_drop = clustered_drop_p_value(
        [[b for b, _ in fields.values()] for fields in pairs.values()],
        [[c for _, c in fields.values()] for fields in pairs.values()],
    )
    return pooled.model_copy(update={"p_value": round(min(1.0, 2 * p_drop), 6), "p_value_drop": round(p_drop, 6)})


def _relabel(reference: SideCase, candidate: SideCase) -> Relabel | None:
    if reference.expectations is None or reference.expectations == candidate.expectations:
        return None
    before, after = jsonable(dict(reference.expected)), jsonable(dict(candidate.expected))
    changed = sorted(
        name
        for name in set(before) | set(after)
        if name not in before or name not in after or before[name] != after[name]
    )
    return Relabel(
        case=candidate.id,
        fields=tuple(changed),
        added=tuple(name for name in changed if name not in before),
        removed=tuple(name for name in changed if name not in after),
        critical_changed=sorted(reference.critical) != sorted(candidate.critical),
        before={name: before.get(name) for name in changed},
        after={name: after.get(name) for name in changed},
    )


def _reference_scores(
    reference: SideCase, candidate: SideCase, reader: SpecReader
) -> tuple[dict[str, float], list[str]]:
    """The reference's scores under the candidate's expectations, and the fields that cannot be re-scored.

    Only the fields that cannot be re-scored are left out (a changed judge rubric), so such
    a change never hides a drop on the case's other fields.
    """
    if reference.outputs is None:
        # A document without stored outputs can only be compared where nothing was relabelled.
        if reference.expectations is not None and reference.expectations != candidate.expectations:
            return {}, sorted(candidate.expected)
        return {name: reference.scores[name] for name in candidate.expected if name in reference.scores}, []
    scores: dict[str, float] = {}
    skipped: list[str] = []
    for name, spec in candidate.expected.items():
        try:
            scores[name] = rescore_field(
                name, spec, reference.outputs, reference.expected.get(name), reference.scores.get(name), reader
            )
        except NotRescorable:
            skipped.append(name)
    return scores, sorted(skipped)


def compare_sides(
    reference: Side,
    candidate: Side,
    names: tuple[str, str] = ("baseline", "current"),
    reader: SpecReader | None = None,
) -> Comparison:
    """Compare the candidate with the reference on the cases both scored; `names` label the prompt diff.

    `reader` reads the candidate's expectations for re-scoring (the run's output model and
    custom checks); without one, values compare by what they are and only entry-point checks are known.
    """
    reader = reader or offline_reader()
    shared = sorted(reference.cases.keys() & candidate.cases.keys())
    errored = [cid for cid in shared if reference.cases[cid].harness_error or candidate.cases[cid].harness_error]
    relabels: list[Relabel] = []
    unscorable: dict[str, tuple[str, ...]] = {}
    pairs: dict[str, dict[str, tuple[float, float]]] = {}
    for cid in shared:
        ref, cand = reference.cases[cid], candidate.cases[cid]
        if ref.harness_error or cand.harness_error:
            continue
        relabel = _relabel(ref, cand)
        if relabel is not None:
            relabels.append(relabel)
        before, skipped = _reference_scores(ref, cand, reader)
        if skipped:
            unscorable[cid] = tuple(skipped)
        if not before:
            continue
        pairs[cid] = {name: (before[name], cand.scores[name]) for name in before if name in cand.scores}
    field_names = sorted({name for fields in pairs.values() for name in fields})
    deltas = {
        name: _delta(
            {cid: f[name][0] for cid, f in pairs.items() if name in f},
            {cid: f[name][1] for cid, f in pairs.items() if name in f},
        )
        for name in field_names
    }
    exact_before = {cid: float(_exact(reference.cases[cid], [b for b, _ in f.values()])) for cid, f in pairs.items()}
    exact_now = {cid: float(_exact(candidate.cases[cid], [c for _, c in f.values()])) for cid, f in pairs.items()}
    flips = sorted(
        (
            Flip(
                case=cid,
                field=name,
                direction="down" if b > c else "up",
                baseline_actual=reference.cases[cid].actuals.get(name),
                current_actual=candidate.cases[cid].actuals.get(name),
            )
            for cid, f in pairs.items()
            for name, (b, c) in sorted(f.items())
            if b != c
        ),
        key=lambda flip: (flip.direction != "down", flip.case, flip.field),
    )
    return Comparison(
        shared_cases=len(pairs),
        added_cases=tuple(sorted(candidate.cases.keys() - reference.cases.keys())),
        removed_cases=tuple(sorted(reference.cases.keys() - candidate.cases.keys())),
        errored_cases=tuple(errored),
        unscorable_cases=tuple(sorted(unscorable)),
        unscorable_fields=unscorable,
        relabels=tuple(relabels),
        fields=deltas,
        overall=_overall(pairs),
        exact_cases=_delta(exact_before, exact_now),
        flips=tuple(flips),
        config_changes=config_changes(reference.config, candidate.config, names),
    )


def _exact(case: SideCase, scores: list[float]) -> bool:
    return case.error is None and bool(scores) and all(s >= 1 for s in scores)
