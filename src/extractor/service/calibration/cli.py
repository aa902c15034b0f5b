"""`listingeval judge calibrate`: how often the online judge agrees with human reviewers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from extractor.service.config import DEFAULT_DB_URL

if TYPE_CHECKING:
    from pytest_listingeval import JudgeAgreement, JudgeCalibrationFile

EXIT_FAILURE = 1
EXIT_REFUSED = 2
TABLES = ("extractions", "reviews", "online_results")


def _fail(message: str, code: int = EXIT_REFUSED) -> int:
    print(f"listingeval: {message}", file=sys.stderr)
    return code


def _min_kappa() -> float:
    """`[tool.listingeval] judge_min_kappa` (default 0.6); ConfigError when it is not a number in [-1, 1]."""
    from extractor.errors import ConfigError
    from extractor.settings import project_table
    from pytest_listingeval.judge_calibration import DEFAULT_MIN_KAPPA, min_kappa_setting

    try:
        return min_kappa_setting(project_table().get("judge_min_kappa", DEFAULT_MIN_KAPPA))
    except ValueError as exc:
        raise ConfigError(f"[tool.listingeval] {exc}") from exc


def _status(found: JudgeAgreement, threshold: float) -> str:
    if found.n == 0:
        return "no reviewed verdict"
    if found.kappa is None:
        return "kappa undefined"
    return "ok" if found.kappa >= threshold else f"below {threshold:g}"


def table_lines(document: JudgeCalibrationFile, threshold: float) -> list[str]:
    """The agreement table as text, one row per rubric version and field."""
    if not document.rubrics:
        return ["no judge verdict stored yet: online_results holds no pass or fail of kind judge"]
    # Field paths (`line_items[*].name`) can be long: the column fits the longest.
    w = max([14, *(len(field) + 2 for fields in document.rubrics.values() for field in fields)])
    lines = [
        "positive: the judge passes the field; truth: the latest review's verdict on it",
        f"{'rubric':<14}{'field':<{w}}{'judged':>7}{'n':>6}{'tp':>6}{'fp':>6}{'tn':>6}{'fn':>6}"
        f"{'agree':>8}{'kappa':>8}  judge_min_kappa {threshold:g}",
    ]
    for version, fields in document.rubrics.items():
        for field, found in fields.items():
            agree = "-" if found.agreement is None else f"{100 * found.agreement:.1f}%"
            kappa = "-" if found.kappa is None else f"{found.kappa:.2f}"
            lines.append(
                f"{version:<14}{field:<{w}}{found.judged:>7}{found.n:>6}{found.tp:>6}{found.fp:>6}{found.tn:>6}"
                f"{found.fn:>6}{agree:>8}{kappa:>8}  {_status(found, threshold)}"
            )
    return lines


def _write(path: Path, text: str) -> str | None:
    """Write the file (aside, then renamed into place); the reason when it cannot be written."""
    from pytest_listingeval.documents import write_text_atomically

    try:
        write_text_atomically(path, text)
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Print judge/reviewer agreement per rubric version and field; write the calibration file with --out."""
    from sqlalchemy.exc import SQLAlchemyError

    from extractor.cli_db import DatabaseRefused, open_database
    from extractor.service.calibration.agreement import calibrate
    from pytest_listingeval import calibration_text

    threshold = _min_kappa()
    try:
        engine = open_database(args.db, TABLES)
    except DatabaseRefused as exc:
        return _fail(str(exc))
    try:
        document = calibrate(engine)
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return _fail(f"database error: {lines[0] if lines else type(exc).__name__}", EXIT_FAILURE)
    finally:
        engine.dispose()
    text = calibration_text(document)
    if args.out is not None and (problem := _write(Path(args.out), text)):
        return _fail(problem)
    if args.json:
        sys.stdout.write(text)
        return 0
    print("\n".join(table_lines(document, threshold)))
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `judge` command group."""
    group = sub.add_parser("judge", help="the online judge: how far its verdicts can be trusted")
    judge_sub = group.add_subparsers(dest="judge_command", required=True)
    calibrate = judge_sub.add_parser(
        "calibrate",
        help="judge/reviewer agreement (tp, fp, tn, fn, Cohen's kappa) per rubric version and field",
        description="Pair every online judge verdict with the latest human review of the same field. Positive: "
        "the judge passes the field; the reviewer's verdict is the truth.",
    )
    calibrate.add_argument("--json", action="store_true", help="print the calibration document as JSON")
    calibrate.add_argument(
        "--db", help=f"SQLAlchemy database URL (default: [tool.listingeval.service] db or {DEFAULT_DB_URL})"
    )
    calibrate.add_argument(
        "--out",
        metavar="PATH",
        help="also write the calibration file the eval report reads ([tool.listingeval] judge_calibration)",
    )
    calibrate.set_defaults(func=cmd_calibrate, extra="service")
