"""Cassette filters from the hook: generic hygiene by default, the extractor's for the OpenAI Responses API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from pytest_listingeval import CassetteFilters
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.plugin.harness_support import GenericProject, image_stem, instrument
from tests.plugin.test_harness_faults import ExtractorProject, listing

KEY = "fake-key-not-real"
HOOK_CONFTEST = """
from pytest_listingeval import CassetteFilters


def stamp(data):
    data["stamped"] = True
    return data


def pytest_listingeval_cassette_filters(config):
    return CassetteFilters(keep_response_headers=frozenset({"openai-processing-ms"}), response_body=stamp)
"""


def _interaction(path: Any) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (interaction,) = data["interactions"]
    assert isinstance(interaction, dict)
    return interaction


def test_combine_applies_every_filter_in_order_and_unions_headers() -> None:
    first = CassetteFilters(frozenset({"a"}), request_body=lambda d: {**d, "x": d["x"] + "1"})
    second = CassetteFilters(frozenset({"b"}), request_body=lambda d: {**d, "x": d["x"] + "2"})
    both = CassetteFilters.combine([first, None, second])
    assert both.keep_response_headers == {"a", "b"}
    assert both.request_body is not None and both.request_body({"x": "0"}) == {"x": "012"}
    assert both.response_body is None
    assert CassetteFilters.combine([]).request_body is None


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A fake server the generic task asks (FAKE_TASK_URL)."""
    with FakeOpenAI() as fake:
        fake.answer_with(None)
        monkeypatch.setenv("FAKE_TASK_URL", fake.base_url)
        yield fake


def _record_generic(pytester: pytest.Pytester, server: FakeOpenAI, conftest: str | None) -> dict[str, Any]:
    project = GenericProject(pytester)
    if conftest:
        pytester.makeconftest(conftest)
    project.add("violin", {"kind": "violin"}, instrument(), cassette=False)
    image = project.path / "cases" / "images" / f"{image_stem('violin')}.png"
    server.answer_image(hashlib.sha256(image.read_bytes()).hexdigest(), instrument())
    run = project.run("-m", "eval", "--record-mode=once")
    assert run.ret == 0, run.text
    return _interaction(project.cassette("violin"))


def test_without_a_hook_only_generic_hygiene_applies(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    interaction = _record_generic(pytester, server, None)
    headers = {name.lower() for name in interaction["response"]["headers"]}
    assert "x-request-id" in headers and "content-type" in headers
    assert "openai-processing-ms" not in headers  # provider-specific: only kept when a filter asks
    assert set(interaction["request"]["headers"]) <= {"content-type", "Content-Type"}
    body = json.loads(interaction["request"]["body"])
    assert body["input"][0]["content"][1]["image_url"].startswith("sha256:")
    assert "stamped" not in json.loads(interaction["response"]["body"]["string"])


def test_a_conftest_hook_adds_headers_and_rewrites_responses_and_replays(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    interaction = _record_generic(pytester, server, HOOK_CONFTEST)
    headers = {name.lower() for name in interaction["response"]["headers"]}
    assert "openai-processing-ms" in headers
    assert json.loads(interaction["response"]["body"]["string"])["stamped"] is True
    monkeypatch.delenv("FAKE_TASK_URL")
    replay = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "-m", "eval")
    assert replay.ret == 0, replay.stdout.str()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The fake server, with the SDK's own variables pointing at it."""
    with FakeOpenAI() as server:
        server.answer_with(listing("Violin"))
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "LISTINGEVAL_MODEL", "LISTINGEVAL_PROMPT"):
            monkeypatch.delenv(name, raising=False)
        yield server


@pytest.mark.parametrize("with_plugin", [True, False])
def test_the_extractor_supplies_the_openai_filters(
    pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, with_plugin: bool
) -> None:
    project = ExtractorProject(pytester)
    if with_plugin:
        pytester.makeconftest('pytest_plugins = ["extractor.pytest_plugin"]\n')
    project.write_case("violin", {"category": "musical_instruments"})
    run = project.run("-m", "eval", "--record-mode=once")
    assert run.ret == 0, run.text
    (cassette,) = (project.path / "cassettes").rglob("violin.yaml")
    interaction = _interaction(cassette)
    request = json.loads(interaction["request"]["body"])
    response = json.loads(interaction["response"]["body"]["string"])
    headers = {name.lower() for name in interaction["response"]["headers"]}
    if with_plugin:
        assert request["text"]["format"]["schema"].startswith("sha256:")
        assert response["instructions"].startswith("sha256:")
        assert set(response["text"]["format"]["schema"]) == {"sha256"}
        assert "openai-processing-ms" in headers
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # replay must not need the server
        replay = project.run("-m", "eval")
        assert replay.ret == 0, replay.text
        assert replay.scores("violin") == {"category": 1}
    else:
        assert isinstance(request["text"]["format"]["schema"], dict)
        assert not response["instructions"].startswith("sha256:")
        assert "openai-processing-ms" not in headers
