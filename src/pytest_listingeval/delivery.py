"""Deliver the final outcome to every output, so that all of them say the same thing.

Each output is a `Sink`. The outcome is built, then delivered to the sinks in order; when
one fails (an unwritable path, a rendering bug, MLflow down), the failure becomes a harness
error, the outcome is built again with it (its verdict is now `error`), and every sink that
has not failed is delivered again from the new outcome. So no output can show a verdict
the others and the exit status do not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pytest_listingeval.documents import results_text, write_text_atomically
from pytest_listingeval.mlflow_log import MlflowRun
from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.runs import index_record


class Sink(Protocol):
    """One output of a run."""

    label: str

    def deliver(self, outcome: RunOutcome) -> str:
        """Render and write the outcome; return where it went (raises on any fault)."""
        ...


@dataclass
class FileSink:
    """A text document rendered from the outcome and written atomically to a path."""

    label: str
    path: Path
    render: Callable[[RunOutcome], str]

    def deliver(self, outcome: RunOutcome) -> str:
        """Render first, then write: a rendering bug leaves the previous file in place."""
        write_text_atomically(self.path, self.render(outcome))
        return str(self.path)


@dataclass
class StepSummarySink:
    """The markdown appended to $GITHUB_STEP_SUMMARY; a second delivery replaces the first."""

    path: Path
    render: Callable[[RunOutcome], str]
    label: str = "step summary"
    _start: int | None = None

    def deliver(self, outcome: RunOutcome) -> str:
        """Append once; on a later delivery cut the file back to where this run began appending."""
        text = self.render(outcome)
        if not text.endswith("\n"):
            text += "\n"
        with self.path.open("a+b") as handle:
            if self._start is None:
                self._start = handle.seek(0, os.SEEK_END)
            handle.truncate(self._start)
            handle.seek(self._start)
            handle.write(text.encode("utf-8"))
        return str(self.path)


@dataclass
class RunRecordSink:
    """`reports/runs/<run id>.json` (the results document) and its line in the runs index."""

    runs_dir: Path
    label: str = "run record"

    def deliver(self, outcome: RunOutcome) -> str:
        """Write the record, then index it (the index is a cache: its faults are not errors)."""
        path = self.runs_dir / f"{outcome.run.id}.json"
        write_text_atomically(path, results_text(outcome))
        index_record(path, outcome)
        return str(path)


@dataclass
class MlflowSink:
    """An MLflow run opened before the verdict, filled with the final outcome and its files."""

    run: MlflowRun
    artifacts: Callable[[], list[Path]]
    label: str = "MLflow run"

    def deliver(self, outcome: RunOutcome) -> str:
        """Log the outcome and the files written so far."""
        return self.run.log(outcome, self.artifacts())


@dataclass
class Delivery:
    """The final outcome and where each output went."""

    outcome: RunOutcome
    written: dict[str, str] = field(default_factory=dict)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def deliver(build: Callable[[Sequence[str]], RunOutcome], sinks: Sequence[Sink]) -> Delivery:
    """Build the outcome and deliver it everywhere, rebuilding it after every output fault."""
    problems: list[str] = []
    failed: set[int] = set()
    while True:
        outcome = build(tuple(problems))
        written: dict[str, str] = {}
        for index, sink in enumerate(sinks):
            if index in failed:
                continue
            try:
                written[sink.label] = sink.deliver(outcome)
            except Exception as exc:  # any fault of any output must end as a harness error
                failed.add(index)
                problems.append(f"cannot write the {sink.label}: {_reason(exc)}")
                break
        else:
            return Delivery(outcome, written)


def writable(path: Path) -> str | None:
    """Why the path cannot be written (checked before the verdict), or None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None
