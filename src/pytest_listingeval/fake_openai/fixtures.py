"""pytest fixtures for the fake OpenAI server, loaded through the `listingeval-fake-openai` plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_listingeval.fake_openai.server import FakeOpenAI

# Set as OPENAI_API_KEY by `fake_openai_env`: the SDK needs a key, and this one cannot pass for a real one.
DUMMY_API_KEY = "fake-key-not-real"
# Variables through which the SDK would send a developer's real organisation, project,
# admin key or extra headers to the fake (and into whatever a test records).
_CLEARED = (
    "OPENAI_ORG_ID",
    "OPENAI_ORGANIZATION",
    "OPENAI_PROJECT_ID",
    "OPENAI_PROJECT",
    "OPENAI_ADMIN_KEY",
    "OPENAI_CUSTOM_HEADERS",
)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server on 127.0.0.1 (a free port), stopped after the test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai_env(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """`fake_openai`, with OPENAI_BASE_URL pointing at it and a dummy OPENAI_API_KEY."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_API_KEY)
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    return fake_openai
