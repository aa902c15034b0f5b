"""Hooks a project implements to extend listingeval, in a conftest.py or a pytest plugin.

The plugin registers these specifications through `pytest_addhooks`, so pytest checks every
implementation's name and arguments. docs/contracts.md describes each hook with an example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_listingeval.cassettes import CassetteFilters
    from pytest_listingeval.check_model import CheckFactory


@pytest.hookspec
def pytest_listingeval_checks() -> dict[str, CheckFactory]:
    """Custom checks for case files: each name maps to a factory.

    The factory is called once, when a case file using `{name: ARG}` is collected, with ARG.
    It may raise ValueError to reject the case; it returns a function of the actual value
    that gives a bool, or a bool and the reason. A name must not be a built-in check or
    be registered twice (by another hook implementation or a `listingeval.checks` entry point).
    """
    raise NotImplementedError


@pytest.hookspec
def pytest_listingeval_cassette_filters(config: pytest.Config) -> CassetteFilters | None:
    """What cassettes should know of the API the task calls: response headers to keep, bodies to shrink.

    Every implementation's filters apply, in pytest's hook order. Without any, cassettes keep
    the harness's own hygiene only: no credentials, no request headers but content-type, a few
    generic response headers, base64 images replaced by their sha256.
    """
    raise NotImplementedError
