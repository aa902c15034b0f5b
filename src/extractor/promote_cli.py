"""`listingeval cases promote`: turn reviewed or published production extractions into eval cases."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from extractor.promote import Promoter

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
# What --from-online cannot be combined with: option shown in the message -> argparse destination.
_NOT_WITH_ONLINE = {
    "an extraction ID": "id",
    "--all-reviewed": "all_reviewed",
    "--from": "origin",
    "--case-id": "case_id",
    "--since": "since",
}


class _Refused(Exception):
    """A problem with the command's input, reported on one line."""


def _fail(message: str) -> int:
    print(f"listingeval: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _engine(db: str | None, tables: tuple[str, ...] = ("extractions", "reviews")) -> Engine:
    """An engine on the service database; refuses a missing SQLite file or an unmigrated database."""
    from extractor.cli_db import DatabaseRefused, open_database

    try:
        return open_database(db, tables)
    except DatabaseRefused as exc:
        raise _Refused(str(exc)) from exc


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _Refused(f"--since {value!r} is not a date (YYYY-MM-DD or an ISO datetime)") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record_hint(target: str) -> str:
    return f"record its cassette: OPENAI_API_KEY=sk-... pytest -m eval --record-mode=once {target}"


def _one(promoter: Promoter, args: argparse.Namespace) -> int:
    from extractor.promote import PromoteError

    try:
        done = promoter.promote(args.id, args.origin, args.case_id)
    except PromoteError as exc:
        return _fail(str(exc))
    print(done.case_id)
    print(f"wrote {done.case_path.as_posix()} and {done.image_path.as_posix()}")
    print(_record_hint(done.case_path.as_posix()))
    return EXIT_OK


def _bulk(promoter: Promoter, args: argparse.Namespace) -> int:
    from extractor.promote import PromoteError

    counts = {"promoted": 0, "duplicate": 0, "exists": 0, "missing": 0, "invalid": 0}
    for extraction_id in promoter.reviewed_since(_since(args.since)):
        try:
            done = promoter.promote(extraction_id, args.origin)
        except PromoteError as exc:
            counts[exc.problem] += 1
            print(f"skipped: {exc}")
            continue
        counts["promoted"] += 1
        print(f"promoted {done.case_id} (extraction {extraction_id})")
    skipped = sum(counts.values()) - counts["promoted"]
    print(
        f"{counts['promoted']} promoted, {skipped} skipped ({counts['duplicate']} duplicate, "
        f"{counts['exists']} already a case, {counts['missing'] + counts['invalid']} not promotable)"
    )
    if counts["promoted"]:
        print(_record_hint("-k from-production"))
    return EXIT_OK


def _from_online(args: argparse.Namespace) -> int:
    """Flag the unreviewed extractions an online check failed on, so the review queue serves them first."""
    from sqlalchemy.exc import SQLAlchemyError

    from extractor.promote.online import UnknownCheck, flag_failed

    given = [name for name, value in _NOT_WITH_ONLINE.items() if getattr(args, value)]
    if given:
        return _fail(f"--from-online flags rows for review; it cannot go with {', '.join(given)}")
    try:
        engine = _engine(args.db, ("extractions", "reviews", "online_results"))
    except _Refused as exc:
        return _fail(str(exc))
    try:
        done = flag_failed(engine, args.from_online, args.limit)
    except UnknownCheck as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"listingeval: database error: {lines[0] if lines else type(exc).__name__}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    already = f" ({done.already} more already flagged)" if done.already else ""
    print(
        f"flagged {done.flagged} unreviewed extraction{'' if done.flagged == 1 else 's'} whose online check "
        f"{done.check!r} failed{already}; review them first: /review?strategy=flagged"
    )
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    """Promote one extraction (or every reviewed one) to an eval case, or flag online failures for review."""
    if args.from_online is not None:
        return _from_online(args)
    if args.limit is not None:
        return _fail("--limit goes with --from-online")
    # --from has no default so that --from-online can tell it was given; review is the default here.
    args.origin = args.origin or "review"
    if args.all_reviewed == bool(args.id):
        return _fail("give one extraction ID, or --all-reviewed")
    if args.all_reviewed and args.case_id:
        return _fail("--case-id names one case; it cannot go with --all-reviewed")
    if args.since and not args.all_reviewed:
        return _fail("--since goes with --all-reviewed")
    from extractor.promote import Promoter

    try:
        engine = _engine(args.db)
        _since(args.since)
    except _Refused as exc:
        return _fail(str(exc))
    try:
        promoter = Promoter(engine, Path(args.cases_dir))
        return _bulk(promoter, args) if args.all_reviewed else _one(promoter, args)
    except _Refused as exc:
        return _fail(str(exc))
    finally:
        engine.dispose()


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value!r}")
    return number


def register(cases: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `promote` to the `cases` command group."""
    promote = cases.add_parser(
        "promote",
        help="write an eval case from a reviewed or published production extraction",
        description="Write cases/<name>.yaml and its image from a stored extraction, with the corrected values "
        "as expected fields. Refuses an image already in the eval set (same bytes or a near-duplicate). "
        "With --from-online CHECK, flag the unreviewed extractions that online check failed on for review first.",
    )
    promote.add_argument("id", nargs="?", help="extraction id (or a unique prefix of one)")
    promote.add_argument(
        "--from",
        dest="origin",
        choices=("review", "final"),
        help="expected values from the latest review (default) or from the seller's published listing",
    )
    promote.add_argument("--case-id", help="case id to write (default production/<first 8 hex of the id>)")
    promote.add_argument("--db", help="service database URL (default: [tool.listingeval.service] db)")
    promote.add_argument("--cases-dir", default="cases", help="the eval cases folder (default cases)")
    promote.add_argument("--all-reviewed", action="store_true", help="promote every reviewed extraction")
    promote.add_argument("--since", help="with --all-reviewed: only reviews made on or after this date")
    promote.add_argument(
        "--from-online",
        metavar="FAILED_CHECK",
        help="write no case: flag the unreviewed extractions this online check failed on, "
        "so the review queue's `flagged` strategy serves them first",
    )
    promote.add_argument(
        "--limit", type=_positive, help="with --from-online: flag at most N extractions, the newest failures first"
    )
    promote.set_defaults(func=cmd_promote, extra="service")
