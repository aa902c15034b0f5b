"""Scoring one served output against the online checks, and the judge's sampling draw: pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from extractor.service.extraction.variants import bucket
from extractor.service.online.settings import OnlineCheck
from pytest_listingeval.paths import value_at

Result = Literal["pass", "fail", "error"]
Kind = Literal["check", "judge"]
# Reasons are for people; a runaway custom check's message must not bloat every row.
MAX_REASON = 1000
_SAMPLE_SALT = "online-judge"


@dataclass(frozen=True)
class Verdict:
    """One online result of one extraction, as stored in `online_results`."""

    check: str
    field: str
    kind: Kind
    result: Result
    reason: str
    rubric_version: str | None = None
    cost_usd: float | None = None


def score(output: Mapping[str, Any], checks: Sequence[OnlineCheck]) -> list[Verdict]:
    """Every check applied to the value at its field path; a missing step is said in the reason."""
    verdicts = []
    for online in checks:
        found = value_at(output, online.field)
        try:
            outcome = online.check.apply(found.value)
        except Exception as exc:  # a check's own bug is an error of that check, never of the worker
            verdicts.append(Verdict(online.name, online.field, "check", "error", clip(f"{type(exc).__name__}: {exc}")))
            continue
        reason = outcome.detail if found.missing is None else f"{found.missing}: {outcome.detail}"
        verdicts.append(Verdict(online.name, online.field, "check", "pass" if outcome.passed else "fail", clip(reason)))
    return verdicts


def judge_sampled(extraction_id: str, sample: float) -> bool:
    """Whether the judge grades this extraction: a fixed draw per id, true for a `sample` share of ids."""
    return sample > 0 and bucket(_SAMPLE_SALT, extraction_id) < sample


def clip(text: str) -> str:
    """A reason cut to what a row keeps."""
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
