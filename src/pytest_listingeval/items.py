"""pytest collection of case files: one item per case, marked `eval`, named by case id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.cases import Case, CaseError
from pytest_listingeval.cassettes import CassetteUse, use_cassette
from pytest_listingeval.results import CaseResult
from pytest_listingeval.runner import run_case
from pytest_listingeval.state import session_of

# The scored case travels on its report as JSON text (one string is far cheaper for xdist's
# execnet to ship than a nested dict), with the mismatch flag beside it for the status letter.
RESULT_ATTRIBUTE = "listingeval_case"
MISMATCH_ATTRIBUTE = "listingeval_mismatch"
NO_CASES_NAME = "no-eval-case"


class HarnessError(Exception):
    """The harness could not run a case (missing or stale cassette, crashed task)."""


class CaseFile(pytest.File):
    """A `cases/**/*.yaml` file holding one case."""

    def collect(self) -> Iterator[CaseItem]:
        """Validate the case and yield its item."""
        case = session_of(self.config).load(self.path)
        yield CaseItem.from_parent(self, name=case.id, case=case)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """A malformed case reports one line naming the file and the problem."""
        if isinstance(excinfo.value, CaseError | pytest.UsageError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CaseItem(pytest.Item):
    """One evaluation case: runs the task in the case's cassette and scores it."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.result: CaseResult | None = None
        self.prefetched: CaseResult | None = None
        self.add_marker(pytest.mark.eval)
        self.extra_keyword_matches.update(case.tags)

    def runtest(self) -> None:
        """Run and score the case; only harness faults fail the item."""
        state = session_of(self.config)
        if self.prefetched is not None:
            self.result = self.prefetched
        else:
            filters = state.cassette_filters

            def cassette(path: Path, record_mode: str) -> AbstractContextManager[CassetteUse]:
                return use_cassette(path, record_mode, filters)

            self.result = run_case(state.settings, state.task, state.description, self.case, cassette)
        if self.result.harness_error:
            raise HarnessError(self.result.harness_error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """Harness errors are one readable line, not a traceback."""
        if isinstance(excinfo.value, HarnessError):
            return f"{self.case.id}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Location shown by pytest."""
        return self.path, None, f"eval case {self.case.id}"


class NoCasesItem(pytest.Item):
    """Stands for an empty case set: selected by `-m eval` like a case, it fails saying where it looked.

    Whether the run asked for eval cases is then decided by pytest's own selection (-m, -k),
    not by reading the options.
    """

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.add_marker(pytest.mark.eval)

    def runtest(self) -> None:
        """Fail: there is no case to evaluate."""
        raise HarnessError(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """One line: where the harness looked and what to add."""
        return self.message

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Location shown by pytest."""
        return self.path, None, "eval case set"
