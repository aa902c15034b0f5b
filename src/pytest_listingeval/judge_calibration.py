"""Judge calibration: a rubric's version, the calibration file, and what it says of each judge a run used.

The file is written by `listingeval judge calibrate --out PATH` from production judge verdicts
and human reviews; an eval run reads it to warn about judges nobody checked, or that agree
with reviewers little better than chance. Warnings only: the gate never reads them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from pytest_listingeval.results import CaseResult, Frozen

CALIBRATION_VERSION = 1
DEFAULT_CALIBRATION_PATH = "reports/judge-calibration.json"
DEFAULT_MIN_KAPPA = 0.6
POSITIVE = (
    "positive: the judge passes the field; truth: the reviewer's verdict on it (the latest review); "
    "tp judge pass and reviewer right, fp judge pass and reviewer wrong, "
    "tn judge fail and reviewer wrong, fn judge fail and reviewer right"
)


def rubric_version(text: str) -> str:
    """The first 12 hex digits of the sha256 of a rubric's text (UTF-8): what ties a verdict to its rubric."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def min_kappa_setting(value: Any) -> float:
    """`judge_min_kappa` as a number between -1 and 1; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
        raise ValueError(f"judge_min_kappa must be a number between -1 and 1, got {value!r}")
    return float(value)


class JudgeAgreement(Frozen):
    """The judge against reviewers on one rubric version and field: the 2x2 counts and Cohen's kappa.

    `n` counts the judge's verdicts on reviewed fields (`judged`: all its pass/fail verdicts).
    `kappa` is None when it is undefined: no pair yet, or the judge and the reviewers gave one
    and the same verdict every time, so agreement cannot be told apart from chance.
    """

    judged: int = 0
    n: int
    tp: int
    fp: int
    tn: int
    fn: int
    kappa: float | None = None
    agreement: float | None = None


class JudgeCalibrationFile(Frozen):
    """The calibration file: agreement per rubric version, then per field."""

    version: int = CALIBRATION_VERSION
    created_at: str = ""
    positive: str = POSITIVE
    rubrics: dict[str, dict[str, JudgeAgreement]] = Field(default_factory=dict)


class JudgeCalibration(Frozen):
    """One judge rubric an eval run used on one field, and its calibration (`warning` None when it is fine)."""

    field: str
    rubric_version: str
    rubric: str
    cases: int
    n: int | None = None
    kappa: float | None = None
    warning: str | None = None


def calibration_text(document: JudgeCalibrationFile) -> str:
    """The calibration file's JSON text."""
    return json.dumps(document.model_dump(mode="json"), indent=2, sort_keys=True, allow_nan=False) + "\n"


def read_calibration(path: Path) -> JudgeCalibrationFile:
    """The calibration file at `path`; OSError or ValueError (one line) when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
        raise ValueError(f"{path} is not a version {CALIBRATION_VERSION} judge calibration file")
    try:
        return JudgeCalibrationFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path} is not a judge calibration file ({where}: {first['msg']})") from exc


def _rubrics_in(spec: Any) -> list[str]:
    """The judge rubrics of one field's expected spec (a check mapping, or a list of them)."""
    if isinstance(spec, list):
        return [rubric for item in spec for rubric in _rubrics_in(item)]
    if isinstance(spec, Mapping) and isinstance(spec.get("judge"), str):
        return [spec["judge"]]
    return []


def judge_rubrics(results: Iterable[CaseResult]) -> Counter[tuple[str, str]]:
    """How many cases use each (field, rubric) judge check."""
    used: Counter[tuple[str, str]] = Counter()
    for result in results:
        used.update({(name, rubric) for name, score in result.fields.items() for rubric in _rubrics_in(score.expected)})
    return used


def _warning(found: JudgeAgreement | None, min_kappa: float, source: str) -> str | None:
    if found is None:
        return f"not in {source}: no reviewed production verdict of this rubric on this field"
    if found.n == 0:
        return "no reviewed production verdict yet (n 0)"
    if found.kappa is None:
        return f"kappa undefined on n {found.n}: judge and reviewers gave one and the same verdict every time"
    if math.isnan(found.kappa) or found.kappa < min_kappa:
        return f"kappa {found.kappa:.2f} is below judge_min_kappa {min_kappa:g} (n {found.n})"
    return None


def judge_calibrations(
    results: Iterable[CaseResult], path: Path, source: str, min_kappa: float
) -> tuple[JudgeCalibration, ...]:
    """Each judge rubric the results use, with its kappa from the calibration file and a warning when it falls short."""
    used = judge_rubrics(results)
    if not used:
        return ()
    document: JudgeCalibrationFile | None = None
    problem = None
    try:
        document = read_calibration(path)
    except FileNotFoundError:
        problem = f"no judge calibration file at {source} (write one: listingeval judge calibrate --out {source})"
    except (OSError, ValueError) as exc:
        problem = f"cannot read the judge calibration file {source}: {' '.join(str(exc).split())}"
    found_in: dict[str, dict[str, JudgeAgreement]] = document.rubrics if document else {}
    judged = []
    for (field, rubric), cases in sorted(used.items()):
        version = rubric_version(rubric)
        found = found_in.get(version, {}).get(field)
        judged.append(
            JudgeCalibration(
                field=field,
                rubric_version=version,
                rubric=rubric,
                cases=cases,
                n=found.n if found else None,
                kappa=found.kappa if found else None,
                warning=problem or _warning(found, min_kappa, source),
            )
        )
    return tuple(judged)
