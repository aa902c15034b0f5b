"""Synthetic run records for the `runs` tests (no tests here: shared builders)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

FIELDS = ("brand", "category", "color", "condition", "description", "title")
PROMPT_A = "You write listings.\nLook at the photo.\nTitle at most 80 characters.\n"
PROMPT_B = "You write listings.\nLook only at the photo.\nTitle at most 60 characters.\n"


def _field(expected: Any, actual: Any, score: int) -> dict[str, Any]:
    return {
        "score": score,
        "expected": expected,
        "actual": actual,
        "checks": [
            {
                "check": "equals",
                "passed": bool(score),
                "detail": f"expected {expected!r}, got {actual!r}",
                "similarity": None,
            }
        ],
    }


def make_case(case_id: str, scores: dict[str, int], error: str | None = None) -> dict[str, Any]:
    """One case of a run record, shaped like the plugin's output (fields, output, usage)."""
    fields = {
        name: _field(f"{name}-expected", f"{name}-{'ok' if s else 'bad'}-{case_id}", s) for name, s in scores.items()
    }
    return {
        "id": case_id,
        "error": {"type": error, "message": "boom"} if error else None,
        "fields": fields,
        "output": {name: f["actual"] for name, f in fields.items()},
        "latency_ms": 800,
        "usage": {"input_tokens": 720, "output_tokens": 60},
        "image": f"cases/images/{case_id.replace('/', '_')}.png",
        "tags": ["clipart"],
        "critical": [],
        "harness_error": None,
    }


def summary_of(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The run summary (micro overall, exact-case rate, per-field accuracy) of these cases."""
    pairs = [f["score"] for c in cases for f in c["fields"].values()]
    fields: dict[str, Any] = {}
    for name in sorted({n for c in cases for n in c["fields"]}):
        scores = [c["fields"][name]["score"] for c in cases if name in c["fields"]]
        fields[name] = {"accuracy": round(sum(scores) / len(scores), 6), "n": len(scores)}
    exact = [c["error"] is None and all(f["score"] for f in c["fields"].values()) for c in cases]
    return {
        "cases": len(cases),
        "errors": sum(1 for c in cases if c["error"]),
        "overall": round(sum(pairs) / len(pairs), 6) if pairs else 0.0,
        "exact_cases": round(sum(exact) / len(exact), 6) if exact else 0.0,
        "fields": fields,
        "usage": {"input_tokens": 720 * len(cases), "output_tokens": 60 * len(cases)},
        "cost_usd": 0.0123,
        "latency_ms": {"p50": 800.0, "p95": 900.0, "mean": 810.0},
        "duration_s": 12.5,
    }


def make_record(
    run_id: str,
    cases: list[dict[str, Any]],
    *,
    model: str = "gpt-4.1-mini",
    prompt: str = "default",
    prompt_text: str = PROMPT_A,
    verdict: str = "pass",
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete run record (run, config, summary, cases, verdict) around these cases."""
    stamp = run_id.split("-")[0]
    time = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+00:00"
    return {
        "run": {"id": run_id, "time": time, "command": "pytest -m eval", "case_set": "abc123def456"},
        "config": {
            "model": model,
            "prompt": prompt,
            "prompt_id": f"{prompt}-{hashlib.sha256(prompt_text.encode()).hexdigest()[:8]}",
            "schema_id": "586e0251",
            "prompt_text": prompt_text,
            "json_schema": {"properties": {name: {"type": "string"} for name in FIELDS}},
            "params": params if params is not None else {"temperature": None, "max_output_tokens": 1024},
            "git_sha": "7a045dac9b8b76df83da5c78ee65c23910f02af5",
            "git_dirty": False,
        },
        "summary": summary_of(cases),
        "cases": cases,
        "baseline": None,
        "comparison": None,
        "verdict": verdict,
        "regressions": [],
        "critical_misses": [],
        "harness_errors": [],
    }


def realistic_record(index: int, n_cases: int = 60) -> dict[str, Any]:
    """A run record of realistic size (about 60 cases with outputs and checks, ~100 kB)."""
    cases = [
        make_case(
            f"group{c % 9}/case_{c:03d}",
            {name: int((index + c + k) % 7 != 0) for k, name in enumerate(FIELDS)},
        )
        for c in range(n_cases)
    ]
    for case in cases:
        case["output"]["description"] = "A long-ish description of the item in the photo. " * 6
    minute, second = divmod(index, 60)
    hour, minute = divmod(minute, 60)
    run_id = f"20260101T{hour:02d}{minute:02d}{second:02d}Z-{index:06x}"
    model = "gpt-4.1-mini" if index % 2 else "gpt-4.1"
    prompt = "concise" if index % 3 == 0 else "default"
    return make_record(run_id, cases, model=model, prompt=prompt)


def write_json(path: Path, data: Any) -> Path:
    """Write data as indented JSON (as the plugin does) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def pair_of_runs() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs A and B with known flips, a prompt and model change, one added and one removed case."""
    scores_a = {
        "c/one": {"category": 1, "color": 1, "title": 1},
        "c/two": {"category": 1, "color": 0, "title": 1},
        "c/three": {"category": 0, "color": 1, "title": 1},
        "c/four": {"category": 1, "color": 1, "title": 1},
        "c/gone": {"category": 1, "color": 1, "title": 1},
    }
    scores_b = copy.deepcopy(scores_a)
    del scores_b["c/gone"]
    scores_b["c/new"] = {"category": 1, "color": 1, "title": 0}
    scores_b["c/one"]["category"] = 0  # down
    scores_b["c/four"]["category"] = 0  # down
    scores_b["c/two"]["color"] = 1  # up
    cases_a = [make_case(cid, s) for cid, s in scores_a.items()]
    cases_b = [make_case(cid, s) for cid, s in scores_b.items()]
    # An extraction error scores 0 on every field: color and title flip down.
    cases_b[2] = make_case("c/three", dict.fromkeys(scores_b["c/three"], 0), error="refusal")
    a = make_record("20260102T100000Z-aaaaaa", cases_a)
    b = make_record(
        "20260102T110000Z-bbbbbb",
        cases_b,
        model="gpt-4.1",
        prompt="concise",
        prompt_text=PROMPT_B,
        params={"temperature": 0.2, "max_output_tokens": 1024},
        verdict="regression",
    )
    b["config"]["json_schema"]["properties"]["material"] = {"type": "string"}
    b["config"]["schema_id"] = "11112222"
    return a, b
