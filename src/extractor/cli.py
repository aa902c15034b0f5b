"""`listingeval` command line: extract, serve, runs, cases, rollout, judge."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from extractor.errors import ConfigError
from extractor.extras import missing_extra_message

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _fail(message: str, code: int) -> int:
    print(f"listingeval: {message}", file=sys.stderr)
    return code


def cmd_extract(args: argparse.Namespace) -> int:
    """Print the listing extracted from one image as JSON."""
    from extractor.client import Extractor
    from extractor.prompts import load_prompt
    from extractor.settings import load_settings

    path = Path(args.image)
    if not path.is_file():
        return _fail(f"invalid_image: {path} does not exist or is not a file", EXIT_BAD_INPUT)
    settings = load_settings()
    prompt = args.prompt or settings.prompt
    load_prompt(prompt)  # fail on an unknown prompt before any network work
    if not os.environ.get("OPENAI_API_KEY"):
        return _fail(
            "OPENAI_API_KEY is not set (set it, and OPENAI_BASE_URL for a compatible server)",
            EXIT_BAD_INPUT,
        )
    outcome = Extractor(settings).extract_file(path, model=args.model, prompt=prompt)
    if outcome.ok:
        json.dump(outcome.listing.model_dump(mode="json"), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    code = EXIT_BAD_INPUT if outcome.type == "invalid_image" else EXIT_FAILURE
    return _fail(outcome.summary(), code)


# Commands that live in their own modules; each module's `register` adds its own to the group.
_COMMAND_MODULES = (
    "extractor.service.cli",
    "extractor.service.rollout.cli",
    "extractor.service.calibration.cli",
    "pytest_listingeval.runs_cli",
)
_CASES_MODULES = ("pytest_listingeval.cases_import_cli", "extractor.promote_cli")


def _registrars(
    module_names: Sequence[str],
) -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """The `register` function of each module that is installed."""
    registrars = []
    for module_name in module_names:
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        registrars.append(module.register)
    return registrars


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="listingeval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    extract = sub.add_parser("extract", help="extract a listing from one photo and print it as JSON")
    extract.add_argument("image", help="path to a png, jpeg or webp photo")
    extract.add_argument("--model", help="model name (default: [tool.listingeval] model)")
    extract.add_argument("--prompt", help="prompt template name (default: [tool.listingeval] prompt)")
    extract.set_defaults(func=cmd_extract, extra="openai")
    for register in _registrars(_COMMAND_MODULES):
        register(sub)
    case_commands = _registrars(_CASES_MODULES)
    if case_commands:
        cases = sub.add_parser("cases", help="eval case maintenance: import cases, promote production extractions")
        cases_sub = cases.add_subparsers(dest="cases_command", required=True)
        for register in case_commands:
            register(cases_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `listingeval` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    extra = getattr(args, "extra", None)
    if extra is not None and (problem := missing_extra_message(args.command, extra)):
        return _fail(problem, EXIT_BAD_INPUT)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`listingeval rollout status | head`): stop quietly, as other tools do.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result


if __name__ == "__main__":
    raise SystemExit(main())
