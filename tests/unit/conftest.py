"""Unit-test fixtures: cassette configuration and a fast-retry extractor on the fake server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import vcr as vcrpy

from extractor.client import Extractor
from extractor.settings import Settings
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.unit import cassette_hygiene

ROOT = Path(__file__).resolve().parents[2]
UNIT_CASSETTES = ROOT / "cassettes" / "unit"

# Tiny backoffs keep the retry tests fast; the timeout is short but above a local round trip.
FAST = Settings(attempts=4, backoff_initial_s=0.01, backoff_max_s=0.2, timeout_s=2.0)


def pytest_recording_configure(config: pytest.Config, vcr: vcrpy.VCR) -> None:
    """Register the canonical-body matcher named in `vcr_config`."""
    vcr.register_matcher("canonical_body", cassette_hygiene.bodies_match)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """Hygienic cassette options; the record mode stays the CLI's."""
    return cassette_hygiene.vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """cassettes/unit/<test module name>/."""
    return str(UNIT_CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def make_extractor(fake_openai_env: FakeOpenAI) -> Callable[..., Extractor]:
    """Build an Extractor against the fake server with fast retries; overrides as keywords."""

    def make(**overrides: Any) -> Extractor:
        return Extractor(FAST.with_overrides(**overrides))

    return make
