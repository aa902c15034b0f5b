"""Hand-built run outcomes for the report tests: dicts in the RunOutcome shape, validated into the model."""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report.formatting import is_plain, spec_text

FIELDS = ("category", "color", "brand", "condition", "title", "description")
CATEGORIES = (
    "electronics",
    "furniture",
    "home_garden",
    "fashion",
    "sports_outdoors",
    "musical_instruments",
    "toys_games",
    "books_media",
    "tools_diy",
)
COLORS = ("black", "white", "grey", "red", "blue", "brown", "green", "silver")
XSS = "<script>alert('xss')</script>"

# (case index, field, direction, baseline actual, current actual)
FLIPS = [
    (3, "color", "down", "brown", "orange"),
    (7, "color", "down", "black", "grey"),
    (12, "color", "down", "blue", "purple"),
    (18, "category", "down", "furniture", "home_garden"),
    (21, "brand", "down", None, "Acme Home"),
    (25, "title", "down", None, "Kitchen appliance"),
    (29, "condition", "down", "used", "unknown"),
    (31, "color", "down", "red", "pink"),
    (33, "description", "down", None, "A seat"),
    (35, "category", "down", "toys_games", "collectibles_art"),
    (36, "color", "down", "white", "beige"),
    (9, "condition", "up", "unknown", "used"),
    (15, "category", "up", "other", "sports_outdoors"),
]
ERROR_CASES = (5, 27)
HARNESS_CASE = 30
HARNESS_MESSAGE = "missing cassette cassettes/eval/gpt-4.1-mini/default-3f2a9c1d/x.yaml"
UNSCORABLE_CASE = 11
# (case index, field, spec before, spec now, critical changed): expectations edited since the baseline
DESCRIPTION_20 = [{"contains_any": ["home_garden", "item"]}, {"max_len": 600}]
RELABELS = [
    (13, "color", "red", "brown", False),
    (20, "brand", "Acme", None, True),
    (20, "description", {"contains_any": ["lamp"]}, DESCRIPTION_20, True),
]
MISMATCH_ONLY = {(10, "title"), (14, "brand"), (22, "description"), (37, "color")}
XSS_CASE = 1
PROMPT_DIFF = """--- baseline/default
+++ current/default
@@ -1,4 +1,5 @@
 You fill in a marketplace listing from one photo.
-Name the dominant colour of the item.
+Name the colour of the item, ignoring the background.
+If two colours cover the item equally, answer multicolor.
 Never invent a brand that is not visible.
"""


# The shape pydantic gives a listing: enums as $defs, an optional enum as anyOf with null.
LISTING_LIKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Category": {"enum": [*CATEGORIES, "other"], "type": "string"},
        "Color": {"enum": list(COLORS), "type": "string"},
    },
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "category": {"$ref": "#/$defs/Category"},
        "color": {"anyOf": [{"$ref": "#/$defs/Color"}, {"type": "null"}]},
        "brand": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "condition": {"enum": ["new", "used", "unknown"], "type": "string"},
    },
}


def case_id(index: int) -> str:
    """Return the case id for a case index (folder per category)."""
    return f"{CATEGORIES[index % len(CATEGORIES)]}/item-{index:02d}"


def _expected(index: int) -> dict[str, Any]:
    category = CATEGORIES[index % len(CATEGORIES)]
    color = COLORS[index % len(COLORS)]
    return {
        "category": category if index % 6 else {"any_of": [category, "other"]},
        "color": color,
        "brand": None if index % 3 else "Acme",
        "condition": "used",
        "title": {"contains_all": [category.split("_")[0]]},
        "description": [{"contains_any": [category, "item"]}, {"max_len": 600}],
    }


def _plain(spec: Any) -> Any:
    if isinstance(spec, dict):
        return spec.get("any_of", [None])[0]
    if isinstance(spec, list):
        return "A well kept item, see photos."
    return spec


def _miss(entry: dict[str, Any], actual: Any, check: str, detail: str, similarity: float | None = None) -> None:
    entry.update(score=0, actual=actual)
    entry["checks"] = [{"check": check, "passed": False, "detail": detail, "similarity": similarity}]


def _case(index: int) -> dict[str, Any]:
    expected = _expected(index)
    fields: dict[str, Any] = {}
    error = None
    if index in ERROR_CASES:
        error = {"type": "RefusalError", "message": f"model refused case {index}: policy | <b>"}
    for name in FIELDS:
        spec = expected[name]
        actual = _plain(spec)
        if name == "title":
            actual = f"{CATEGORIES[index % len(CATEGORIES)].split('_')[0].title()} item {index}"
        score = 1
        checks = [{"check": "equals", "passed": True, "detail": "", "similarity": None}]
        if error:
            actual, score = None, 0
            checks = [{"check": "error", "passed": False, "detail": "no output", "similarity": None}]
        fields[name] = {"score": score, "expected": spec, "actual": actual, "checks": checks}
    for flip_index, name, direction, _before, after in FLIPS:
        # an "up" flip is right now and wrong in the baseline: the field already holds the right value
        if flip_index == index and direction == "down":
            spec = fields[name]["expected"]
            check = "equals" if is_plain(spec) else "spec"
            _miss(fields[name], after, check, f"expected {spec_text(spec)}, got {after}")
    for mis_index, name in MISMATCH_ONLY:
        if mis_index == index:
            _miss(fields[name], "something else\nwith | pipe", "similar_to", "similarity 0.41 < 0.80", 0.41)
    if index == XSS_CASE:
        _miss(fields["title"], XSS, "contains_all", "missing: furniture")
    harness_error = None
    if index == HARNESS_CASE:
        harness_error = HARNESS_MESSAGE
        error = {"type": "harness_error", "message": HARNESS_MESSAGE}
        for entry in fields.values():
            entry.update(score=0, actual=None, checks=[])
    output = None if error else {name: fields[name]["actual"] for name in FIELDS}
    return {
        "id": case_id(index),
        "error": error,
        "harness_error": harness_error,
        "image": f"cases/images/item-{index:02d}.png" if index != 39 else "cases/images/missing.png",
        "tags": ["clipart"] + (["hard"] if index % 4 == 0 else []) + (["photo"] if index % 5 == 0 else []),
        "fields": fields,
        "output": output,
        "latency_ms": 600 + index * 17,
        "usage": {"input_tokens": 900 + index, "output_tokens": 80 + index % 7},
    }


def _flip(cases: list[dict[str, Any]], index: int, name: str, direction: str, before: Any) -> Any:
    entry = cases[index]["fields"][name]
    baseline_actual = _plain(entry["expected"]) if direction == "down" else before
    if name == "title" and direction == "down":
        baseline_actual = f"{CATEGORIES[index % len(CATEGORIES)].split('_')[0].title()} item {index}"
    return {
        "case": case_id(index),
        "field": name,
        "direction": direction,
        "baseline_actual": baseline_actual,
        "current_actual": entry["actual"],
    }


def _accuracy(cases: list[dict[str, Any]], name: str) -> float:
    scores: list[float] = [c["fields"][name]["score"] for c in cases]
    return sum(scores) / len(scores)


def _relabels(n_cases: int) -> list[dict[str, Any]]:
    by_case: dict[int, dict[str, Any]] = {}
    for index, name, before, after, critical in RELABELS:
        if index >= n_cases:
            continue
        entry = by_case.setdefault(
            index, {"case": case_id(index), "fields": [], "critical_changed": critical, "before": {}, "after": {}}
        )
        entry["fields"].append(name)
        entry["before"][name] = before
        entry["after"][name] = after
    return list(by_case.values())


def _delta(base: float, now: float, n: int, down: int, up: int, p: float, p_drop: float) -> dict[str, Any]:
    keys = ("baseline", "current", "delta", "n", "flipped_down", "flipped_up", "p_value", "p_value_drop")
    return dict(zip(keys, (base, now, now - base, n, down, up, p, p_drop), strict=True))


def _regression(name: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {"field": name} | {key: row[key] for key in ("baseline", "current", "delta", "p_value_drop")}


def regression_data(n_cases: int = 40) -> dict[str, Any]:
    """A regression run: flips both ways, errors, a harness error, relabels, cases left out, added and removed."""
    cases = [_case(i) for i in range(n_cases)]
    pairs = [c["fields"][f]["score"] for c in cases for f in FIELDS]
    overall = sum(pairs) / len(pairs)
    exact = sum(all(c["fields"][f]["score"] for f in FIELDS) for c in cases) / n_cases
    fields_summary = {}
    comparison_fields = {}
    for name in FIELDS:
        acc = _accuracy(cases, name)
        down = sum(1 for i, f, d, *_ in FLIPS if f == name and d == "down" and i < n_cases)
        up = sum(1 for i, f, d, *_ in FLIPS if f == name and d == "up" and i < n_cases)
        base = acc + (down - up) / n_cases
        fields_summary[name] = {"accuracy": acc, "n": n_cases, "ci_low": max(0.0, acc - 0.09)}
        fields_summary[name]["ci_high"] = min(1.0, acc + 0.07)
        p = 0.031 if name == "color" else (1.0 if down == up else 0.5)
        comparison_fields[name] = _delta(base, acc, n_cases - 2, down, up, p, p / 2)
    base_overall = overall + 0.02
    config = {
        "model": "gpt-4.1-mini",
        "prompt": "default",
        "prompt_id": "default-3f2a9c1d",
        "schema_id": "a1b2c3d4",
        "prompt_text": "You fill in a marketplace listing from one photo.",
        "json_schema": LISTING_LIKE_SCHEMA,
        "params": {"temperature": 0.2},
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "git_dirty": False,
    }
    base_config = dict(config, model="gpt-4.1", prompt_id="default-77e0b412", params={})
    color = comparison_fields["color"]
    relabels = _relabels(n_cases)
    overall_delta = _delta(base_overall, overall, (n_cases - 2) * len(FIELDS), 11, 2, 0.042, 0.021)
    return {
        "run": {"id": "20250102-030405-abcd", "time": "2025-01-02T03:04:05+00:00", "case_set": "cases"},
        "config": config,
        "summary": {
            "cases": n_cases,
            "errors": len([i for i in ERROR_CASES if i < n_cases]),
            "harness_errors": 1 if n_cases > HARNESS_CASE else 0,
            "overall": overall,
            "exact_cases": exact,
            "fields": fields_summary,
            "usage": {
                "input_tokens": sum(c["usage"]["input_tokens"] for c in cases),
                "output_tokens": sum(c["usage"]["output_tokens"] for c in cases),
            },
            "cost_usd": 0.0213,
            "latency_ms": {"p50": 930, "p95": 1250, "mean": 962.5},
            "duration_s": 14.2,
        },
        "cases": cases,
        "baseline": {
            "source": "main:reports/baseline.json",
            "overall": base_overall,
            "exact_cases": exact + 0.1,
            "fields": {f: {"accuracy": v["baseline"], "n": 39} for f, v in comparison_fields.items()},
            "config": base_config,
        },
        "comparison": {
            "shared_cases": n_cases - 2,
            "added_cases": [case_id(n_cases - 1), case_id(n_cases - 2)],
            "removed_cases": ["retired/old-lamp"],
            "errored_cases": [case_id(HARNESS_CASE)] if n_cases > HARNESS_CASE else [],
            "unscorable_cases": [case_id(UNSCORABLE_CASE)] if n_cases > UNSCORABLE_CASE else [],
            "relabels": relabels,
            "overall": overall_delta,
            "exact_cases": _delta(exact + 0.1, exact, n_cases - 2, 5, 1, 0.2, 0.1),
            "fields": comparison_fields,
            "flips": [_flip(cases, i, f, d, before) for i, f, d, before, _ in FLIPS if i < n_cases],
            "config_changes": {
                "model": ["gpt-4.1", "gpt-4.1-mini"],
                "prompt_id": ["default-77e0b412", "default-3f2a9c1d"],
                "prompt_diff": PROMPT_DIFF,
                "schema_changes": ["color: enum gained 'multicolor'"],
                "params": {"temperature": [None, 0.2]},
            },
        },
        "policy": {"mode": "strict", "tolerance": 0.0, "alpha": 0.05},
        "coverage": {"case_set": n_cases, "selected": n_cases},
        "verdict": "regression",
        "relabelled": [r["case"] for r in relabels],
        "regressions": [_regression("color", color), _regression("overall", overall_delta)],
        "critical_misses": [{"case": case_id(18), "field": "category"}],
        "harness_errors": [HARNESS_MESSAGE + ": record it with pytest -m eval --record-mode once"],
    }


def passing_data() -> dict[str, Any]:
    """A clean passing run without a baseline."""
    data = regression_data(8)
    for case in data["cases"]:
        case["error"] = None
        for entry in case["fields"].values():
            entry["score"] = 1
    data["summary"].update(errors=0, harness_errors=0)
    data.update(verdict="pass", baseline=None, comparison=None, relabelled=[], regressions=[])
    data.update(critical_misses=[], harness_errors=[])
    return copy.deepcopy(data)


PARTIAL_CASE_SET = 58
NOT_RUN = ("toys_games/item-50", "toys_games/item-51", "tools_diy/item-52")
REMOVED = ("retired/old-lamp",)


def partial_data() -> dict[str, Any]:
    """A passing run of 12 of the 58 cases, against a baseline with a case that no longer exists."""
    data = regression_data(12)
    ran = {c["id"] for c in data["cases"]}
    not_selected = [f"other/item-{i:02d}" for i in range(PARTIAL_CASE_SET - len(ran) - len(NOT_RUN))]
    data["coverage"] = {
        "case_set": PARTIAL_CASE_SET,
        "selected": len(ran),
        "not_selected": sorted([*not_selected, *NOT_RUN]),
        "removed": list(REMOVED),
        "not_run": list(NOT_RUN),
    }
    data.update(partial=True, verdict="pass", regressions=[], critical_misses=[], harness_errors=[])
    return copy.deepcopy(data)


def _known(data: Any, dumped: Any, where: str) -> None:
    """Every key of the fixture dict is a key of the model: a misspelt one would vanish silently."""
    if isinstance(data, Mapping) and isinstance(dumped, Mapping):
        for key, value in data.items():
            assert key in dumped, f"{where}.{key} is not a field of the model"
            _known(value, dumped[key], f"{where}.{key}")
    elif isinstance(data, Sequence) and not isinstance(data, str) and isinstance(dumped, Sequence):
        for index, (item, model_item) in enumerate(zip(data, dumped, strict=False)):
            _known(item, model_item, f"{where}[{index}]")


def outcome_of(data: Mapping[str, Any]) -> RunOutcome:
    """Validate a fixture dict into the typed outcome, refusing keys the model does not have."""
    outcome = RunOutcome.model_validate(data)
    _known(data, outcome.model_dump(), "outcome")
    return outcome


def regression_outcome(n_cases: int = 40) -> RunOutcome:
    """The regression run as a RunOutcome."""
    return outcome_of(regression_data(n_cases))


def passing_outcome() -> RunOutcome:
    """The passing run as a RunOutcome."""
    return outcome_of(passing_data())


def partial_outcome() -> RunOutcome:
    """The partial run as a RunOutcome."""
    return outcome_of(partial_data())


def write_images(root: Path, outcome: RunOutcome, size: tuple[int, int] = (400, 300)) -> None:
    """Write a noisy photo-like PNG for every case image (except missing.png) under root."""
    rng = random.Random(4)
    for index, case in enumerate(outcome.cases):
        rel = case.image
        if not rel or rel.endswith("missing.png"):
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img = Image.effect_noise(size, 40).convert("RGB")
        draw = ImageDraw.Draw(img)
        hue = (index * 37) % 255
        draw.ellipse((80, 50, 330, 260), fill=(hue, 255 - hue, rng.randrange(256)))
        draw.rectangle((25, 25, 125, 100), fill=(rng.randrange(256), 90, 160))
        img.save(path)


REPEATS = 3
# (case index, field, per-repeat scores, per-repeat actuals): passed in some repeats only
FLAKY = [
    (0, "color", [1, 0, 1], ["black", "grey", "black"]),
    (2, "category", [0, 1, 1], ["furniture", "home_garden", "home_garden"]),
    (4, "description", [0, 1, 0], ["An item.", "A used sports item.", "Nice."]),
    (6, "brand", [1, 1, 0], ["Acme", "Acme", "Acme Home"]),
]
JUDGE_PASS = "mentions the visible wear on the corners"
JUDGE_FAIL = "describes a scratch that is not in the photo"
INCONCLUSIVE_P = 0.12


def _repeat(data: dict[str, Any]) -> None:
    for case in data["cases"]:
        case["repeats"], case["repeat_errors"] = REPEATS, 1 if case["error"] else 0
        for entry in case["fields"].values():
            entry["repeat_scores"] = [int(entry["score"])] * REPEATS
            entry["repeat_actuals"] = [entry["actual"]] * REPEATS
        if not case["error"]:
            case["fields"]["description"]["checks"].append(
                {"check": "judge", "passed": True, "detail": JUDGE_PASS, "similarity": None}
            )
    for index, name, scores, actuals in FLAKY:
        entry = data["cases"][index]["fields"][name]
        entry.update(score=round(sum(scores) / REPEATS, 6), repeat_scores=scores, repeat_actuals=actuals)
        entry["actual"] = actuals[0]  # the first repeat's value and checks are the ones shown
        if name == "description":
            entry["checks"] = [{"check": "judge", "passed": False, "detail": JUDGE_FAIL, "similarity": None}]
        elif not scores[0]:
            detail = f"expected {spec_text(entry['expected'])}, got {actuals[0]}"
            entry["checks"] = [{"check": "equals", "passed": False, "detail": detail, "similarity": None}]


def inconclusive_data(n_cases: int = 20) -> dict[str, Any]:
    """A significant-mode run with 3 repeats: flaky fields, judge reasons and an inconclusive color drop."""
    data = regression_data(n_cases)
    _repeat(data)
    cases = data["cases"]
    summary, comparison = data["summary"], data["comparison"]
    for name, row in comparison["fields"].items():
        acc = _accuracy(cases, name)
        summary["fields"][name].update(accuracy=acc, ci_low=max(0.0, acc - 0.12), ci_high=min(1.0, acc + 0.08))
        row.update(current=acc, delta=acc - row["baseline"], p_value_drop=min(1.0, row["p_value"] / 2 + 0.2))
    color = comparison["fields"]["color"]
    color.update(baseline=color["current"] + 0.05, delta=-0.05, p_value=0.24, p_value_drop=INCONCLUSIVE_P)
    data["baseline"]["fields"]["color"]["accuracy"] = color["baseline"]
    comparison.update(relabels=[], unscorable_cases=[], errored_cases=[])
    flaky = [{"case": case_id(i), "field": f, "pass_rate": round(sum(s) / REPEATS, 6)} for i, f, s, _ in FLAKY]
    summary.update(repeats=REPEATS, flaky=flaky, harness_errors=0)
    data["config"].update(judge_model="gpt-4.1", repeat=REPEATS)
    data.update(policy={"mode": "significant", "alpha": 0.05, "tolerance": 0.01}, verdict="inconclusive")
    data.update(relabelled=[], regressions=[], critical_misses=[], harness_errors=[], flaky=flaky)
    data["inconclusive"] = [_regression("color", color)]
    return copy.deepcopy(data)


def inconclusive_outcome(n_cases: int = 20) -> RunOutcome:
    """The inconclusive run as a RunOutcome."""
    return outcome_of(inconclusive_data(n_cases))
