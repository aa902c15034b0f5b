"""The extractor's part in its own eval runs: pytest hooks of the listingeval harness.

Loaded by the repository's conftest.py (`pytest_plugins`); the service never imports it.
"""

from __future__ import annotations

import pytest

from extractor.cassette_filters import OPENAI_RESPONSES
from pytest_listingeval import CassetteFilters


@pytest.hookimpl
def pytest_listingeval_cassette_filters(config: pytest.Config) -> CassetteFilters:
    """The extractor calls the OpenAI Responses API: shrink its echoed payloads in cassettes."""
    return OPENAI_RESPONSES
