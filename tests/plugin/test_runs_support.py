"""Synthetic run outcomes for the `runs` tests (no tests here: shared builders).

Every case is internally consistent: its stored output passes its checks exactly where its
score says so, so the comparison engine's re-scoring of stored outputs reproduces the scores.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_listingeval.cases import expectations_hash
from pytest_listingeval.compare import compare_sides, side_from_results
from pytest_listingeval.documents import results_text
from pytest_listingeval.outcome import Comparison, Coverage, RunConfig, RunInfo, RunOutcome, Verdict
from pytest_listingeval.results import CaseResult, CheckResult, FieldScore
from pytest_listingeval.scoring import rescore_field
from pytest_listingeval.summary import summarise

FIELDS = ("brand", "category", "color", "condition", "description", "title")
PROMPT_A = "You write listings.\nLook at the photo.\nTitle at most 80 characters.\n"
PROMPT_B = "You write listings.\nLook only at the photo.\nTitle at most 60 characters.\n"


def expected_value(case_id: str, name: str) -> str:
    """The expected value of a field of a case (an equality check)."""
    return f"{name} of {case_id}"


def wrong_value(case_id: str, name: str) -> str:
    """A value that fails the field's check."""
    return f"wrong {name} of {case_id}"


def _score(name: str, expected: Any, output: Mapping[str, Any], score: int) -> FieldScore:
    # The stored output must earn the stored score, or re-scoring it would invent flips.
    assert rescore_field(name, expected, [output], expected, score) == score, f"{output} does not score {score}"
    check = "judge" if isinstance(expected, dict) and "judge" in expected else "equals"
    actual = output.get(name)
    return FieldScore(
        score=score,
        expected=expected,
        actual=actual,
        checks=(CheckResult(check=check, passed=bool(score), detail=f"expected {expected!r}, got {actual!r}"),),
    )


def make_case(
    case_id: str,
    scores: Mapping[str, int],
    error: str | None = None,
    *,
    expected: Mapping[str, Any] | None = None,
    actual: Mapping[str, Any] | None = None,
    critical: Sequence[str] = (),
    harness_error: str | None = None,
) -> CaseResult:
    """One scored case; `actual` overrides the values the scores imply (equality checks must still agree)."""
    given_expected = dict(expected or {})
    wanted = {name: given_expected.get(name, expected_value(case_id, name)) for name in scores}
    if error is not None or harness_error is not None:
        fields = {name: FieldScore(score=0, expected=wanted[name], actual=None) for name in scores}
        output = None
    else:
        implied = {name: wanted[name] if s else wrong_value(case_id, name) for name, s in scores.items()}
        output = implied | dict(actual or {})
        fields = {name: _score(name, wanted[name], output, s) for name, s in scores.items()}
    return CaseResult(
        id=case_id,
        fields=fields,
        error={"type": error or "harness_error", "message": "boom"} if error or harness_error else None,
        output=output,
        latency_ms=800,
        usage={"input_tokens": 720, "output_tokens": 60},
        image=f"cases/images/{case_id.replace('/', '_')}.png",
        tags=("clipart",),
        critical=tuple(critical),
        expectations=expectations_hash(wanted, critical),
        harness_error=harness_error,
    )


def make_repeat_case(case_id: str, repeats: Mapping[str, Sequence[int]]) -> CaseResult:
    """A case run len(scores) times: per-field pass rates, one stored output per repeat."""
    wanted = {name: expected_value(case_id, name) for name in repeats}
    count = len(next(iter(repeats.values())))
    outputs = tuple(
        {name: wanted[name] if s[i] else wrong_value(case_id, name) for name, s in repeats.items()}
        for i in range(count)
    )
    fields = {
        name: _score(name, wanted[name], outputs[0], s[0]).model_copy(
            update={
                "score": round(sum(s) / count, 6),
                "repeat_scores": tuple(s),
                "repeat_actuals": tuple(o[name] for o in outputs),
            }
        )
        for name, s in repeats.items()
    }
    return CaseResult(
        id=case_id,
        fields=fields,
        output=outputs[0],
        repeat_outputs=outputs,
        latency_ms=800,
        usage={"input_tokens": 720 * count, "output_tokens": 60 * count},
        expectations=expectations_hash(wanted, ()),
        repeats=count,
    )


def make_record(
    run_id: str,
    cases: Sequence[CaseResult],
    *,
    model: str = "gpt-4.1-mini",
    prompt: str = "default",
    prompt_text: str = PROMPT_A,
    verdict: Verdict = "pass",
    params: dict[str, Any] | None = None,
    schema_fields: Sequence[str] = FIELDS,
    schema_id: str = "586e0251",
) -> RunOutcome:
    """A complete run outcome (run, config, summary, cases, verdict) around these cases."""
    stamp = run_id.split("-")[0]
    time = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+00:00"
    return RunOutcome(
        run=RunInfo(id=run_id, time=time, command="pytest -m eval", case_set="abc123def456"),
        config=RunConfig(
            model=model,
            prompt=prompt,
            prompt_id=f"{prompt}-{hashlib.sha256(prompt_text.encode()).hexdigest()[:8]}",
            schema_id=schema_id,
            prompt_text=prompt_text,
            json_schema={"properties": {name: {"type": "string"} for name in schema_fields}},
            params=params if params is not None else {"temperature": None, "max_output_tokens": 1024},
            repeat=max((c.repeats for c in cases), default=1),
            git_sha="7a045dac9b8b76df83da5c78ee65c23910f02af5",
        ),
        summary=summarise(cases, duration_s=12.5, cost_usd=0.0123),
        cases=tuple(cases),
        coverage=Coverage(case_set=len(cases), selected=len(cases)),
        verdict=verdict,
    )


@lru_cache(maxsize=8)
def _realistic_cases(variant: int, n_cases: int) -> tuple[CaseResult, ...]:
    description = "A long-ish description of the item in the photo. " * 6
    cases = []
    for c in range(n_cases):
        cid = f"group{c % 9}/case_{c:03d}"
        scores = {name: int((variant + c + k) % 7 != 0) for k, name in enumerate(FIELDS)}
        cases.append(
            make_case(
                cid,
                scores,
                expected={"description": description},
                actual={"description": description if scores["description"] else "short"},
            )
        )
    return tuple(cases)


def realistic_record(index: int, n_cases: int = 60) -> RunOutcome:
    """A run outcome of realistic size (about 60 cases with outputs and checks, ~300 kB as JSON)."""
    minute, second = divmod(index, 60)
    hour, minute = divmod(minute, 60)
    run_id = f"20260101T{hour:02d}{minute:02d}{second:02d}Z-{index:06x}"
    model = "gpt-4.1-mini" if index % 2 else "gpt-4.1"
    prompt = "concise" if index % 3 == 0 else "default"
    # The scores repeat every 7 indexes, so 7 sets of cases serve any number of records.
    return make_record(run_id, _realistic_cases(index % 7, n_cases), model=model, prompt=prompt)


def write_json(path: Path, data: Any) -> Path:
    """Write a run outcome as the plugin does (or any other data as indented JSON); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = results_text(data) if isinstance(data, RunOutcome) else json.dumps(data, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def pair_of_runs() -> tuple[RunOutcome, RunOutcome]:
    """Two runs A and B with known flips, a prompt and model change, one added and one removed case."""
    scores_a = {
        "c/one": {"category": 1, "color": 1, "title": 1},
        "c/two": {"category": 1, "color": 0, "title": 1},
        "c/three": {"category": 0, "color": 1, "title": 1},
        "c/four": {"category": 1, "color": 1, "title": 1},
        "c/gone": {"category": 1, "color": 1, "title": 1},
    }
    scores_b = {cid: dict(s) for cid, s in scores_a.items() if cid != "c/gone"}
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
        schema_fields=(*FIELDS, "material"),
        schema_id="11112222",
    )
    return a, b


def replace_case(outcome: RunOutcome, case: CaseResult) -> RunOutcome:
    """The outcome with one case replaced (by id) and its summary recomputed."""
    cases = tuple(case if c.id == case.id else c for c in outcome.cases)
    return outcome.model_copy(update={"cases": cases, "summary": summarise(cases, 12.5, 0.0123)})


def section(out: str, title: str) -> list[str]:
    """The stripped, indented lines under the first line of `out` that starts with `title`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return [line.strip() for line in lines[start + 1 : end]]


def engine_comparison(a: RunOutcome, b: RunOutcome) -> Comparison:
    """What the gate's engine computes for B against A as its reference."""
    return compare_sides(
        side_from_results("A", a.config, a.cases), side_from_results("B", b.config, b.cases), names=("A", "B")
    )


def printed_rows(out: str) -> dict[str, list[str]]:
    """The accuracy table `runs compare` printed: row name to its cells."""
    rows = [re.split(r"\s{2,}", line) for line in section(out, "Accuracy on the")]
    return {row[0]: row[1:] for row in rows[1:] if not row[0].startswith(("A>B", "p:"))}


def expected_rows(result: Comparison) -> dict[str, list[str]]:
    """The engine's rows as `runs compare` must print them."""
    rows = [*result.fields.items(), ("overall", result.overall), ("exact cases", result.exact_cases)]
    shown = {}
    for name, row in rows:
        points = row.delta * 100
        shown[name] = [
            f"{row.baseline * 100:.1f}",
            f"{row.current * 100:.1f}",
            "0.0" if abs(points) < 0.05 else f"{points:+.1f}",
            str(row.n),
            str(row.flipped_down),
            str(row.flipped_up),
            f"{row.p_value:.3f}" + (" *" if row.p_value < 0.05 else ""),
        ]
    return shown


def edited_copy(record: RunOutcome) -> tuple[RunOutcome, list[tuple[str, str, str]]]:
    """A second run: another prompt, and three category scores flipped (two down, one up)."""
    config = record.config.model_copy(
        update={"prompt": "concise", "prompt_id": "concise-0000beef", "prompt_text": record.config.prompt_text + "x\n"}
    )
    scored = [c for c in record.cases if c.scored and c.error is None and "category" in c.fields]
    right = [c for c in scored if c.fields["category"].score == 1]
    wrong = [c for c in scored if c.fields["category"].score == 0]
    flips: list[tuple[str, str, str]] = []
    cases = {c.id: c for c in record.cases}
    for case, direction in ((right[0], "down"), (right[1], "down"), (wrong[0], "up")):
        field = case.fields["category"]
        actual = "other" if direction == "down" else field.expected
        changed = field.model_copy(update={"score": 0 if direction == "down" else 1, "actual": actual})
        cases[case.id] = case.model_copy(update={"fields": {**case.fields, "category": changed}})
        flips.append((direction, case.id, actual if isinstance(actual, str) else json.dumps(actual, sort_keys=True)))
    run = record.run.model_copy(update={"id": "29990101T000000Z-edited", "time": "2999-01-01T00:00:00+00:00"})
    return record.model_copy(update={"run": run, "config": config, "cases": tuple(cases.values())}), flips
