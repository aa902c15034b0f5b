"""pytest-listingeval: per-field evaluation of structured LLM output, gated against a git baseline.

The public API: what a task implements and receives, case files and their checks, cassette
filters for the hook, and the statistics an application reuses on its own data. Everything
else in the package may change between minor versions. None of these imports pytest, so an
application (a service) can use them without a test runner installed.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_listingeval.cases import Case, CaseError, load_case
    from pytest_listingeval.cassette_filters import CassetteFilters
    from pytest_listingeval.cassettes import cassette_path
    from pytest_listingeval.checks import Check, CheckOutcome, CheckSpecError, normalise, parse_spec, run_checks
    from pytest_listingeval.judge_calibration import (
        JudgeAgreement,
        JudgeCalibrationFile,
        calibration_text,
        rubric_version,
    )
    from pytest_listingeval.results import CaseResult, CheckResult, FieldScore
    from pytest_listingeval.stats import bootstrap_interval, mcnemar_exact, paired_bootstrap, wilson_interval
    from pytest_listingeval.task import CaseInput, EvalTask, TaskDescription, TaskLoadError, TaskResult, load_task

try:
    __version__ = version("listingeval")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# Where each public name lives. They are imported on first use, so that importing one part of
# the package (the stdlib-only fake server, the statistics) does not import the rest.
_HOMES = {
    "cases": ("Case", "CaseError", "load_case"),
    "cassette_filters": ("CassetteFilters",),
    "cassettes": ("cassette_path",),
    "checks": ("Check", "CheckOutcome", "CheckSpecError", "normalise", "parse_spec", "run_checks"),
    "judge_calibration": ("JudgeAgreement", "JudgeCalibrationFile", "calibration_text", "rubric_version"),
    "results": ("CaseResult", "CheckResult", "FieldScore"),
    "stats": ("bootstrap_interval", "mcnemar_exact", "paired_bootstrap", "wilson_interval"),
    "task": ("CaseInput", "EvalTask", "TaskDescription", "TaskLoadError", "TaskResult", "load_task"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_listingeval' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pytest_listingeval.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Case",
    "CaseError",
    "CaseInput",
    "CaseResult",
    "CassetteFilters",
    "Check",
    "CheckOutcome",
    "CheckResult",
    "CheckSpecError",
    "EvalTask",
    "FieldScore",
    "JudgeAgreement",
    "JudgeCalibrationFile",
    "TaskDescription",
    "TaskLoadError",
    "TaskResult",
    "__version__",
    "bootstrap_interval",
    "calibration_text",
    "cassette_path",
    "load_case",
    "load_task",
    "mcnemar_exact",
    "normalise",
    "paired_bootstrap",
    "parse_spec",
    "rubric_version",
    "run_checks",
    "wilson_interval",
]
