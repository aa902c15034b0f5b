"""Hooks a project or plugin implements to extend the harness (in a conftest.py or a pytest plugin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy
import pytest

if TYPE_CHECKING:
    from pytest_listingeval.cassettes import CassetteFilters

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_listingeval_cassette_filters(config: pytest.Config) -> CassetteFilters | None:
    """What cassettes should know of the API the task calls: response headers to keep, bodies to shrink.

    Every implementation's filters apply, in pytest's hook order. Without any, cassettes keep
    the harness's own hygiene only: no credentials, no request headers but content-type, a few
    generic response headers, base64 images replaced by their sha256.
    """
