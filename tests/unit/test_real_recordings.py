"""Real OpenAI responses, served byte for byte by the fake server, classified by the extractor.

The recordings come from other projects' test suites with other schemas; where a test
needs a valid Listing the output text is replaced, and the comment there says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from extractor.client import Extractor
from extractor.outcome import Extraction, ExtractionFailure, Usage
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.fakes.listing import DEFAULT_LISTING
from tests.unit import photos, real_openai
from tests.unit.real_openai import Recorded

pytestmark = pytest.mark.unit

MakeExtractor = Callable[..., Extractor]
PHOTO = photos.jpeg_bytes()


def with_listing_text(recorded: Recorded) -> Recorded:
    """Adapted: the recorded output text (another project's schema) becomes a valid Listing."""
    body = recorded.json()
    message = next(item for item in body["output"] if item["type"] == "message")
    message["content"][0]["text"] = json.dumps(DEFAULT_LISTING)
    return recorded.with_json(body)


def run(fake: FakeOpenAI, make: MakeExtractor, *served: Recorded) -> Extraction | ExtractionFailure:
    fake.enqueue(*(r.as_fault() for r in served))
    return make().extract_bytes(PHOTO)


def test_json_schema_response(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    recorded = with_listing_text(real_openai.load("openllmetry_responses_json_schema.yaml"))
    outcome = run(fake_openai_env, make_extractor, recorded)
    assert isinstance(outcome, Extraction), outcome
    assert outcome.listing.model_dump(mode="json") == DEFAULT_LISTING
    assert outcome.response_id == "resp_02f386d5a19c47c9006a184bde9ae08190ac00681814c21cb4"
    assert outcome.usage == Usage(input_tokens=57, output_tokens=10)


def test_json_schema_recorded_text_fails_the_listing_schema(
    fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor
) -> None:
    # Unadapted: the recorded output is {"name": "Alice", "age": 30}, valid JSON, wrong schema.
    recorded = real_openai.load("openllmetry_responses_json_schema.yaml")
    outcome = run(fake_openai_env, make_extractor, recorded)
    assert isinstance(outcome, ExtractionFailure)
    assert outcome.type == "invalid_output"
    assert "schema" in outcome.message


def test_cached_tokens_read(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    recorded = with_listing_text(real_openai.load("ddtrace_responses_cached_tokens.yaml"))
    outcome = run(fake_openai_env, make_extractor, recorded)
    assert isinstance(outcome, Extraction), outcome
    expected: dict[str, Any] = recorded.json()["usage"]
    assert outcome.usage.cached_tokens == expected["input_tokens_details"]["cached_tokens"] > 0
    assert outcome.usage.input_tokens == expected["input_tokens"]


def test_refusal(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    recorded = real_openai.load("mirascope_responses_json_schema_refusal.yaml")
    outcome = run(fake_openai_env, make_extractor, recorded)
    assert isinstance(outcome, ExtractionFailure)
    assert outcome.type == "refusal"
    assert outcome.message == "I'm very sorry, but I can't assist with that."
    assert outcome.response_id == "resp_0e0644cfe502d3570068f966c84d6c81958f57dbddc6c44841"
    assert outcome.usage.input_tokens == 54 and outcome.usage.output_tokens == 13
    assert len(fake_openai_env.requests) == 1


def test_incomplete_max_output_tokens(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    recorded = real_openai.load("mirascope_responses_incomplete_max_output_tokens.yaml")
    outcome = run(fake_openai_env, make_extractor, recorded)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.code) == ("incomplete", "max_output_tokens")
    assert outcome.usage.output_tokens == 50
    assert len(fake_openai_env.requests) == 1


def test_incomplete_reasoning_model(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    # A reasoning item precedes the message; usage carries cache_write_tokens.
    recorded = real_openai.load("ddtrace_responses_incomplete_reasoning_cache_write.yaml")
    outcome = run(fake_openai_env, make_extractor, recorded)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.code) == ("incomplete", "max_output_tokens")
    assert outcome.usage == Usage(input_tokens=1220, output_tokens=100, reasoning_tokens=54)


def test_400_model_not_found(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    recorded = real_openai.load("mirascope_responses_400_model_not_found.yaml")
    outcome = run(fake_openai_env, make_extractor, recorded, recorded)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.status, outcome.code) == ("api_error", 400, "model_not_found")
    assert "does not exist" in outcome.message
    assert outcome.request_id == "req_4034503e497442ed887b172915a0b39a"
    assert outcome.attempts == 1 and len(fake_openai_env.requests) == 1


def test_500_envelope_retried_then_ok(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    error = real_openai.load("ruby_openai_500_server_error_then_200_retry.yml")
    assert error.status == 500
    ok = with_listing_text(real_openai.load("openllmetry_responses_json_schema.yaml"))
    outcome = run(fake_openai_env, make_extractor, error, ok)
    assert isinstance(outcome, Extraction), outcome
    assert outcome.attempts == 2 and len(fake_openai_env.requests) == 2


def test_500_envelope_exhausted(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    error = real_openai.load("ruby_openai_500_server_error_then_200_retry.yml")
    outcome = run(fake_openai_env, make_extractor, *[error] * 4)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.status, outcome.code, outcome.attempts) == (
        "api_error",
        500,
        None,
        4,
    )
    assert outcome.request_id == "req_35c852d7d417877c0fbb3134de873c76"
    assert outcome.message.startswith("The server had an error processing your request.")


def test_insufficient_quota_429_not_retried(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    # The recording holds only the body; OpenAI sends it with HTTP 429.
    recorded = real_openai.load_body("vercelai_responses_insufficient_quota_error_body.json", 429)
    outcome = run(fake_openai_env, make_extractor, recorded, recorded)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.status, outcome.code, outcome.attempts) == (429, "insufficient_quota", 1)
    assert len(fake_openai_env.requests) == 1
