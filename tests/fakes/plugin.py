"""Fixtures for the local fake OpenAI-compatible server (`tests/fakes/server.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import FakeOpenAI

DUMMY_API_KEY = "test-key-not-real"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server on 127.0.0.1 (free port), stopped after the test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai_env(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """`fake_openai`, with OPENAI_BASE_URL pointing at it and a dummy OPENAI_API_KEY."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_API_KEY)
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    return fake_openai
