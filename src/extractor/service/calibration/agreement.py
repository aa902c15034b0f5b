"""Online judge verdicts paired with reviewers' verdicts: 2x2 counts and Cohen's kappa per rubric version and field.

Positive means the judge passes the field; the reviewer's verdict (the latest review of the
extraction, `correct` for that field) is the truth. A judge verdict counts once its
extraction has a review that judged the field; judge errors are not verdicts and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, exists, func, select

from extractor.service.storage.records import as_utc, utcnow
from extractor.service.storage.tables import online_results, reviews
from pytest_listingeval import JudgeAgreement, JudgeCalibrationFile

VERDICTS = ("pass", "fail")


def cohen_kappa(tp: int, fp: int, tn: int, fn: int) -> float | None:
    """Cohen's kappa of the judge and the reviewers from their 2x2 counts; None when it is undefined.

    Undefined means 0/0: no pair at all, or both gave one and the same verdict every time (all
    tp or all tn), so chance alone explains the agreement. A judge that always passes against
    reviewers who sometimes say wrong gets 0.
    """
    # The 2x2 closed form of (observed - chance) / (1 - chance), in integers: exact, no rounding.
    denominator = (tp + fp) * (fp + tn) + (tp + fn) * (fn + tn)
    if denominator == 0:
        return None
    return 2 * (tp * tn - fp * fn) / denominator


@dataclass
class Tally:
    """The 2x2 counts of one rubric version and field, and how many verdicts the judge gave in all."""

    judged: int = 0
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, judge_passed: bool, reviewer_right: bool) -> None:
        """Count one pair of verdicts."""
        if judge_passed:
            self.tp += reviewer_right
            self.fp += not reviewer_right
        else:
            self.tn += not reviewer_right
            self.fn += reviewer_right

    def agreement(self) -> JudgeAgreement:
        """The counts with n, observed agreement and kappa."""
        n = self.tp + self.fp + self.tn + self.fn
        return JudgeAgreement(
            judged=self.judged,
            n=n,
            tp=self.tp,
            fp=self.fp,
            tn=self.tn,
            fn=self.fn,
            kappa=cohen_kappa(self.tp, self.fp, self.tn, self.fn),
            agreement=(self.tp + self.tn) / n if n else None,
        )


def _judge_rows() -> tuple[ColumnElement[bool], ...]:
    return (
        online_results.c.kind == "judge",
        online_results.c.result.in_(VERDICTS),
        online_results.c.rubric_version.is_not(None),
        online_results.c.field.is_not(None),
    )


def _latest_reviews(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per judged extraction, the fields of its latest review (later wins; ties by id)."""
    judged = exists().where(online_results.c.extraction_id == reviews.c.extraction_id, *_judge_rows())
    query = select(reviews.c.extraction_id, reviews.c.fields).where(judged).order_by(reviews.c.created_at, reviews.c.id)
    return {row.extraction_id: row.fields or {} for row in conn.execute(query)}


def tally(engine: Engine) -> dict[tuple[str, str], Tally]:
    """The counts per (rubric version, field), over every judge verdict stored."""
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    totals = (
        select(online_results.c.rubric_version, online_results.c.field, func.count())
        .where(*_judge_rows())
        .group_by(online_results.c.rubric_version, online_results.c.field)
    )
    reviewed = exists().where(reviews.c.extraction_id == online_results.c.extraction_id)
    pairs = select(
        online_results.c.extraction_id, online_results.c.rubric_version, online_results.c.field, online_results.c.result
    ).where(*_judge_rows(), reviewed)
    with engine.connect() as conn:
        latest = _latest_reviews(conn)
        for version, field, count in conn.execute(totals):
            tallies[(str(version), str(field))].judged = int(count)
        for row in conn.execute(pairs):
            verdict = latest.get(row.extraction_id, {}).get(row.field)
            if isinstance(verdict, dict) and "correct" in verdict:
                tallies[(row.rubric_version, row.field)].add(row.result == "pass", bool(verdict["correct"]))
    return dict(tallies)


def calibrate(engine: Engine, now: datetime | None = None) -> JudgeCalibrationFile:
    """The calibration document: agreement per rubric version, then per field."""
    rubrics: dict[str, dict[str, JudgeAgreement]] = defaultdict(dict)
    for (version, field), counts in sorted(tally(engine).items()):
        rubrics[version][field] = counts.agreement()
    created = as_utc(now or utcnow()).replace(microsecond=0).isoformat()
    return JudgeCalibrationFile(created_at=created, rubrics=dict(rubrics))
