"""Helpers for the check tests: read a spec for a one-field model and run it (no tests here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import create_model

from pytest_listingeval.check_model import CheckFactory, CheckOutcome
from pytest_listingeval.checks import run_checks
from pytest_listingeval.field_specs import SpecReader


def outcomes(
    spec: Any, actual: Any, annotation: Any = Any, custom: Mapping[str, CheckFactory] | None = None
) -> list[CheckOutcome]:
    """Read `spec` for a field `f` of `annotation` (validated as a case file is) and run it on `actual`."""
    model = create_model("Holder", f=(annotation, ...))
    checks = SpecReader(model, dict(custom or {})).checks("f", spec)
    return run_checks(checks, actual)


def outcome(spec: Any, actual: Any, annotation: Any = Any) -> CheckOutcome:
    """The one outcome of a spec that reads into one check."""
    (only,) = outcomes(spec, actual, annotation)
    return only


def passes(spec: Any, actual: Any, annotation: Any = Any) -> bool:
    """Whether every check of the spec passes."""
    return all(o.passed for o in outcomes(spec, actual, annotation))
