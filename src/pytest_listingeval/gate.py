"""Compare a run with its baseline and decide the verdict (DESIGN section 7)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_listingeval.baseline import Baseline
from pytest_listingeval.results import CaseResult
from pytest_listingeval.stats import FieldComparison, clustered_drop_p_value, compare_field, compare_field_rates

GATE_MODES = ("strict", "significant")
OVERALL = "overall"


@dataclass
class GateOutcome:
    """The verdict and everything that explains it."""

    verdict: str
    regressions: list[dict[str, Any]] = field(default_factory=list)
    critical_misses: list[dict[str, str]] = field(default_factory=list)
    inconclusive: list[dict[str, Any]] = field(default_factory=list)
    comparison: dict[str, Any] | None = None


def critical_misses(results: list[CaseResult]) -> list[dict[str, str]]:
    """Every (case, field) marked critical that scored 0."""
    return [{"case": r.id, "field": name} for r in sorted(results, key=lambda r: r.id) for name in r.critical_misses]


def _current_scores(results: list[CaseResult]) -> dict[str, dict[str, float]]:
    return {r.id: {name: s["score"] for name, s in r.fields.items()} for r in results}


def _baseline_scores(baseline: Baseline) -> dict[str, dict[str, float]]:
    return {
        case_id: {name: s["score"] for name, s in case.get("fields", {}).items()}
        for case_id, case in baseline.cases.items()
    }


def _compare(base: dict[str, float], now: dict[str, float], tolerance: float, alpha: float) -> FieldComparison:
    """McNemar on 0/1 scores; a paired bootstrap when either side has repeat pass rates."""
    if all(float(v).is_integer() for v in (*base.values(), *now.values())):
        as_int = {k: int(v) for k, v in base.items()}
        return compare_field(as_int, {k: int(v) for k, v in now.items()}, tolerance, alpha)
    return compare_field_rates(base, now, tolerance, alpha)


def _field_row(result: FieldComparison) -> dict[str, Any]:
    return {
        "baseline": round(result.baseline_accuracy, 6),
        "current": round(result.current_accuracy, 6),
        "delta": round(result.delta, 6),
        "n": result.n,
        "flipped_down": result.flipped_down,
        "flipped_up": result.flipped_up,
        "p_value": round(result.p_value, 6),
        "p_value_drop": round(result.p_value_drop, 6),
    }


def _overall(before: dict[str, float], now: dict[str, float], tolerance: float, alpha: float) -> FieldComparison:
    """Micro accuracy over (case, field) pairs; its significance resamples whole cases, not pairs."""
    pooled = _compare(before, now, tolerance, alpha)
    by_case: dict[str, tuple[list[float], list[float]]] = {}
    for key, value in before.items():
        case_id = key.rsplit("::", 1)[0]
        by_case.setdefault(case_id, ([], []))[0].append(value)
        by_case[case_id][1].append(now[key])
    p_drop = clustered_drop_p_value([b for b, _ in by_case.values()], [c for _, c in by_case.values()])
    significant = pooled.strict_regression and p_drop < alpha
    return replace(
        pooled,
        p_value=min(1.0, 2 * p_drop),
        p_value_drop=p_drop,
        significant_regression=significant,
        inconclusive=pooled.strict_regression and not significant,
    )


def config_changes(baseline_config: dict[str, Any], current_config: dict[str, Any]) -> dict[str, Any]:
    """What changed between two run configurations: model, prompt, schema, parameters."""

    def changed(key: str) -> list[Any] | None:
        old, new = baseline_config.get(key), current_config.get(key)
        return [old, new] if old != new else None

    old_text = baseline_config.get("prompt_text") or ""
    new_text = current_config.get("prompt_text") or ""
    diff = "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"baseline/{baseline_config.get('prompt_id', '?')}",
            tofile=f"current/{current_config.get('prompt_id', '?')}",
        )
    )
    old_params = baseline_config.get("params") or {}
    new_params = current_config.get("params") or {}
    params = {
        key: [old_params.get(key), new_params.get(key)]
        for key in sorted(set(old_params) | set(new_params))
        if old_params.get(key) != new_params.get(key)
    }
    return {
        "model": changed("model"),
        "prompt_id": changed("prompt_id"),
        "prompt_diff": diff,
        "schema_id": changed("schema_id"),
        "schema_changes": schema_changes(baseline_config.get("json_schema"), current_config.get("json_schema")),
        "params": params,
    }


def schema_changes(old: Any, new: Any) -> list[str]:
    """Readable differences between two JSON schemas: fields added/removed, enum values changed."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    notes = [f"field added: {name}" for name in sorted(set(new_props) - set(old_props))]
    notes += [f"field removed: {name}" for name in sorted(set(old_props) - set(new_props))]
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
    for name in sorted(set(old_defs) & set(new_defs)):
        before = set(old_defs[name].get("enum", []))
        after = set(new_defs[name].get("enum", []))
        if added := sorted(after - before):
            notes.append(f"{name}: values added {added}")
        if removed := sorted(before - after):
            notes.append(f"{name}: values removed {removed}")
    for name in sorted(set(old_props) & set(new_props)):
        if old_props[name] != new_props[name] and not notes_mention(notes, name):
            notes.append(f"field changed: {name}")
    return notes


def notes_mention(notes: list[str], name: str) -> bool:
    """True when a note already names this field."""
    return any(name in note for note in notes)


def compare(
    results: list[CaseResult],
    baseline: Baseline,
    current_config: dict[str, Any],
    tolerance: float,
    mode: str,
    alpha: float,
) -> GateOutcome:
    """Per-field and overall comparison on shared cases, flips, and the verdict."""
    current = _current_scores(results)
    before = _baseline_scores(baseline)
    shared = sorted(current.keys() & before.keys())
    fields = sorted({name for cid in shared for name in current[cid] if name in before[cid]})
    rows: dict[str, dict[str, Any]] = {}
    regressions: list[dict[str, Any]] = []
    inconclusive: list[dict[str, Any]] = []
    pairs_before: dict[str, float] = {}
    pairs_now: dict[str, float] = {}
    for name in fields:
        base = {cid: before[cid][name] for cid in shared if name in before[cid] and name in current[cid]}
        now = {cid: current[cid][name] for cid in base}
        pairs_before.update({f"{cid}::{name}": v for cid, v in base.items()})
        pairs_now.update({f"{cid}::{name}": v for cid, v in now.items()})
        _judge(name, _compare(base, now, tolerance, alpha), mode, rows, regressions, inconclusive)
    overall_rows: dict[str, dict[str, Any]] = {}
    _judge(
        OVERALL,
        _overall(pairs_before, pairs_now, tolerance, alpha),
        mode,
        overall_rows,
        regressions,
        inconclusive,
    )
    by_id = {r.id: r for r in results}
    flips = [
        {
            "case": cid,
            "field": name,
            "direction": "down" if before[cid][name] > current[cid][name] else "up",
            "baseline_actual": baseline.cases[cid]["fields"][name].get("actual"),
            "current_actual": by_id[cid].fields[name]["actual"],
        }
        for cid in shared
        for name in sorted(current[cid])
        if name in before[cid] and before[cid][name] != current[cid][name]
    ]
    flips.sort(key=lambda f: (f["direction"] != "down", f["case"], f["field"]))
    comparison = {
        "shared_cases": len(shared),
        "added_cases": sorted(current.keys() - before.keys()),
        "removed_cases": sorted(before.keys() - current.keys()),
        "overall": {
            k: overall_rows[OVERALL][k]
            for k in ("baseline", "current", "delta", "n", "flipped_down", "flipped_up", "p_value")
        },
        "fields": rows,
        "flips": flips,
        "config_changes": config_changes(baseline.config, current_config),
        "tolerance": tolerance,
        "mode": mode,
        "alpha": alpha,
    }
    return GateOutcome(
        verdict="regression" if regressions else ("inconclusive" if inconclusive else "pass"),
        regressions=regressions,
        inconclusive=inconclusive,
        comparison=comparison,
    )


def _judge(
    name: str,
    result: FieldComparison,
    mode: str,
    rows: dict[str, dict[str, Any]],
    regressions: list[dict[str, Any]],
    inconclusive: list[dict[str, Any]],
) -> None:
    row = _field_row(result)
    rows[name] = row
    entry = {"field": name, "baseline": row["baseline"], "current": row["current"]}
    if (mode == "strict" and result.strict_regression) or (mode == "significant" and result.significant_regression):
        regressions.append(entry)
    elif mode == "significant" and result.inconclusive:
        inconclusive.append({**entry, "p_value_drop": row["p_value_drop"]})
