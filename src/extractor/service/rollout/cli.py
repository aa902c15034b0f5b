"""`listingeval rollout start|status|advance|halt|ship|shadow`: the rollout state, from a terminal."""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from extractor.service.config import DEFAULT_DB_URL

EXIT_REFUSED = 2


def _who() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _rollouts(db: str | None) -> Iterator[object]:
    from sqlalchemy import inspect

    from extractor.service.config import load_config
    from extractor.service.rollout.commands import Rollouts
    from extractor.service.rollout.state import RolloutError
    from extractor.service.storage.db import make_engine

    config = load_config(db)
    engine = make_engine(config.db_url)
    try:
        if not inspect(engine).has_table("routing"):
            raise RolloutError(
                "the database has no rollout tables: run `listingeval db upgrade` (or start the service)"
            )
        yield Rollouts(config, engine)
    finally:
        engine.dispose()


def _run(args: argparse.Namespace, action: Callable[[object], int]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from extractor.errors import ConfigError
    from extractor.service.rollout.state import RolloutError

    try:
        with _rollouts(args.db) as rollouts:
            return action(rollouts)
    except (RolloutError, ConfigError) as exc:
        print(f"listingeval: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"listingeval: database error: {lines[0] if lines else type(exc).__name__}", file=sys.stderr)
        return 1


def cmd_start(args: argparse.Namespace) -> int:
    """Start a rollout at its first step."""
    from extractor.service.rollout.commands import Rollouts
    from extractor.service.rollout.state import parse_steps

    def action(rollouts: object) -> int:
        assert isinstance(rollouts, Rollouts)
        rollout = rollouts.start(
            args.candidate,
            args.against,
            parse_steps(args.steps),
            args.by,
            args.why or "",
            args.min_requests,
            args.min_hours,
        )
        steps = ", ".join(f"{s:g}" for s in rollout.steps)
        where = f"started at {rollout.step_percent:g} % (steps {steps})"
        print(f"rollout of {rollout.candidate} against {rollout.control} {where}")
        return 0

    return _run(args, action)


def cmd_status(args: argparse.Namespace) -> int:
    """Print where the latest rollout stands."""
    from extractor.service.rollout.commands import Rollouts
    from extractor.service.rollout.render import status_lines

    def action(rollouts: object) -> int:
        assert isinstance(rollouts, Rollouts)
        status = rollouts.status()
        if args.json:
            print(json.dumps(status.to_json(), indent=2, allow_nan=False))
        else:
            print("\n".join(status_lines(status)))
        return 0

    return _run(args, action)


def _change(name: str) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from extractor.service.rollout.commands import Rollouts

        def action(rollouts: object) -> int:
            assert isinstance(rollouts, Rollouts)
            rollout = getattr(rollouts, name)(args.by, args.why or "")
            print(f"rollout of {rollout.candidate}: {rollout.state} at {rollout.step_percent:g} %")
            return 0

        return _run(args, action)

    command.__doc__ = f"{name.capitalize()} the running rollout."
    return command


def cmd_shadow(args: argparse.Namespace) -> int:
    """Start, change or stop the shadow sample."""
    from extractor.service.rollout.commands import Rollouts

    def action(rollouts: object) -> int:
        assert isinstance(rollouts, Rollouts)
        variant = None if args.stop else args.candidate
        if variant is None and not args.stop:
            print("listingeval: give the shadow variant, or --stop", file=sys.stderr)
            return EXIT_REFUSED
        routing = rollouts.shadow(variant, args.share, args.against, args.by, args.why or "")
        if routing.shadow_variant is None:
            print("shadow stopped")
        else:
            target = routing.shadow_against or "every other variant"
            print(f"{routing.shadow_variant} shadows {routing.shadow_share * 100:g} % of the requests of {target}")
        return 0

    return _run(args, action)


def _number(convert: Callable[[str], float], what: str, low: float, high: float) -> Callable[[str], float]:
    """An argparse type: `convert`ed text within [low, high], else a one-line usage error."""

    def parse(value: str) -> float:
        try:
            number = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {value!r}") from None
        if not math.isfinite(number) or not low <= number <= high:
            bound = f"between {low:g} and {high:g}" if math.isfinite(high) else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"must be {what} {bound}, not {value!r}")
        return number

    return parse


_percent = _number(float, "a percentage", 0, 100)
_count = _number(int, "a whole number", 0, math.inf)
_hours = _number(float, "a number of hours", 0, math.inf)


def _common(parser: argparse.ArgumentParser, why: bool = True) -> None:
    parser.add_argument(
        "--db", help=f"SQLAlchemy database URL (default: [tool.listingeval.service] db or {DEFAULT_DB_URL})"
    )
    parser.add_argument("--by", default=_who(), help="who makes the change, for the event log (default: $USER)")
    if why:
        parser.add_argument("--why", help="why, for the event log")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `rollout` command group."""
    group = sub.add_parser("rollout", help="ramp a candidate variant in steps, watched by guardrails")
    rollout_sub = group.add_subparsers(dest="rollout_command", required=True)
    start = rollout_sub.add_parser("start", help="start rolling CANDIDATE out to the users of CONTROL")
    start.add_argument("candidate", metavar="CANDIDATE", help="a variant of [tool.listingeval.variants]")
    start.add_argument("--against", required=True, metavar="CONTROL", help="the variant now serving those users")
    start.add_argument(
        "--steps", default="1,5,25,50,100", help="candidate percentages, ending at 100 (default 1,5,25,50,100)"
    )
    start.add_argument("--min-requests", type=_count, help="candidate requests needed at a step before advancing")
    start.add_argument("--min-hours", type=_hours, help="hours needed at a step before advancing")
    _common(start)
    start.set_defaults(func=cmd_start, extra="service")
    status = rollout_sub.add_parser("status", help="the latest rollout: step, metrics with intervals, decision")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    _common(status, why=False)
    status.set_defaults(func=cmd_status, extra="service")
    for name, text in (
        ("advance", "go to the next step (needs the minimum sample and no guardrail breach)"),
        ("halt", "stop serving the candidate now"),
        ("ship", "make the candidate serve all the control's users (at 100 %, decision ship)"),
    ):
        parser = rollout_sub.add_parser(name, help=text)
        _common(parser)
        parser.set_defaults(func=_change(name), extra="service")
    shadow = rollout_sub.add_parser("shadow", help="run CANDIDATE on a sample of served requests, unseen by users")
    shadow.add_argument("candidate", metavar="CANDIDATE", nargs="?", help="the shadow variant")
    shadow.add_argument("--share", type=_percent, default=10.0, help="percentage of requests sampled (default 10)")
    shadow.add_argument(
        "--against", metavar="CONTROL", help="sample only this variant's requests (default: all others)"
    )
    shadow.add_argument("--stop", action="store_true", help="stop the shadow sample")
    _common(shadow)
    shadow.set_defaults(func=cmd_shadow, extra="service")
