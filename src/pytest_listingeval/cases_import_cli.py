"""`listingeval cases import`: write eval cases from an OpenAI Evals JSONL file or a pydantic-evals dataset."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pytest_listingeval.importers import READERS, Imported, ImportOptions, SourceError, read_source
from pytest_listingeval.importers.writer import PlannedCase, existing_files, plan_cases, write_cases
from pytest_listingeval.project import cases_folder, project_root

EXIT_OK = 0
EXIT_NOTHING_WRITTEN = 1
EXIT_BAD_INPUT = 2
SHOWN_EXISTING = 3


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"listingeval: {message}", file=sys.stderr)
    return code


def _shown(path: Path, base: Path) -> str:
    """A path relative to `base` when inside it (what a committed case file should hold), else its name."""
    resolved = path.resolve()
    return resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else path.name


def _relative(path: Path) -> str:
    return Path(os.path.relpath(path)).as_posix()


def _options(args: argparse.Namespace) -> ImportOptions:
    return ImportOptions(
        input_fields=tuple(args.input_fields or ()),
        expected_field=args.expected_field,
        output_field=args.output_field,
    )


def _report(imported: Imported) -> None:
    for title, tally in (("skipped", imported.skipped), ("not mapped", imported.unmapped)):
        if tally:
            print(f"{title}:")
            for line in tally.lines():
                print(f"  {line}")


def _summary(planned: list[PlannedCase], out_dir: Path, dry_run: bool) -> None:
    beside = sum(len(case.files) for case in planned)
    files = f" and {beside} file{'s' if beside != 1 else ''} beside them" if beside else ""
    verb = "would write" if dry_run else "wrote"
    print(f"{verb} {len(planned)} case{'s' if len(planned) != 1 else ''}{files} under {_relative(out_dir)}")
    if dry_run:
        for case in planned:
            for path in case.paths:
                print(f"  {_relative(path)}")


def cmd_import(args: argparse.Namespace) -> int:
    """Read the source, map each item to a case, write the cases (unless --dry-run) and report what did not map."""
    source = Path(args.source)
    if not source.is_file():
        return _fail(f"{source}: no such file")
    if args.expected_field and args.origin != "openai-evals":
        return _fail("--expected-field applies to --from openai-evals (pydantic-evals cases have expected_output)")
    root, table = project_root(Path.cwd())
    root = root.resolve()
    cases_root = cases_folder(root, table).resolve()
    out_dir = Path(args.out).resolve()
    if not out_dir.is_relative_to(cases_root):
        return _fail(f"--out {args.out} is outside the cases folder {_relative(cases_root)}; cases elsewhere never run")
    try:
        imported = read_source(args.origin, source, _options(args), _shown(source, root))
    except SourceError as exc:
        return _fail(str(exc))
    planned = plan_cases(imported, out_dir)
    if not planned:
        _report(imported)
        return _fail(f"nothing imported from {source}: every item was skipped", EXIT_NOTHING_WRITTEN)
    clashes = [] if args.force else existing_files(planned)
    if clashes:
        first = ", ".join(_relative(path) for path in clashes[:SHOWN_EXISTING])
        more = f" and {len(clashes) - SHOWN_EXISTING} more" if len(clashes) > SHOWN_EXISTING else ""
        return _fail(f"{len(clashes)} file(s) already exist ({first}{more}); nothing written; --force overwrites")
    if not args.dry_run:
        try:
            write_cases(planned)
        except OSError as exc:
            return _fail(f"cannot write under {_relative(out_dir)}: {exc.strerror or exc}")
    _summary(planned, out_dir, args.dry_run)
    _report(imported)
    if not args.dry_run:
        print(f"next: pytest -m eval {_relative(out_dir)} --record-mode=once   (records their cassettes)")
    return EXIT_OK


def register(cases: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `import` to the `cases` command group."""
    command = cases.add_parser(
        "import",
        help="write eval cases from an OpenAI Evals JSONL file or a pydantic-evals dataset",
        description="Write one case YAML per item under --out (inside the cases folder), mapping inputs and "
        "expected values, then list, per kind, what did not map. See docs/importing-cases.md.",
    )
    command.add_argument("source", metavar="SOURCE", help="the JSONL file, or the dataset .yaml/.json")
    command.add_argument("--from", dest="origin", required=True, choices=tuple(READERS), help="the source's format")
    command.add_argument("--out", required=True, metavar="DIR", help="folder for the cases, inside the cases folder")
    command.add_argument(
        "--input-field",
        dest="input_fields",
        metavar="NAME",
        action="append",
        help="only this item field becomes an input; repeat for more (default: every field but the expected one)",
    )
    command.add_argument(
        "--expected-field",
        metavar="NAME",
        help="openai-evals: the item field holding the expected answer (default ground_truth, else ideal)",
    )
    command.add_argument(
        "--output-field",
        default="output",
        metavar="NAME",
        help="the output field a plain expected value checks (default output)",
    )
    command.add_argument("--dry-run", action="store_true", help="say what would be written; write nothing")
    command.add_argument("--force", action="store_true", help="overwrite case files that already exist")
    command.set_defaults(func=cmd_import)
