"""The extractor against the fake server: retries, API errors and bad model output."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest

from extractor.client import Extractor
from extractor.outcome import Extraction, ExtractionFailure
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.unit import photos

pytestmark = pytest.mark.unit

MakeExtractor = Callable[..., Extractor]
PHOTO = photos.jpeg_bytes()


def extract(make: MakeExtractor, **overrides: object) -> Extraction | ExtractionFailure:
    return make(**overrides).extract_bytes(PHOTO)


def assert_listing(outcome: Extraction | ExtractionFailure) -> Extraction:
    assert isinstance(outcome, Extraction), f"expected a listing, got {outcome}"
    assert outcome.listing.model_dump(mode="json") == DEFAULT_LISTING
    return outcome


def gaps(fake: FakeOpenAI) -> list[float]:
    """Seconds between consecutive requests, measured at the server."""
    times = [r.received_at for r in fake.requests]
    return [b - a for a, b in itertools.pairwise(times)]


def test_success_reads_listing_usage_and_ids(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    outcome = assert_listing(extract(make_extractor))
    assert outcome.attempts == 1
    assert outcome.response_id is not None and outcome.response_id.startswith("resp_")
    assert outcome.usage.input_tokens > 0 and outcome.usage.output_tokens > 0
    (request,) = fake_openai_env.requests
    assert request.headers["authorization"] == "Bearer fake-key-not-real"
    assert request.body is not None and request.body["model"] == outcome.model
    assert request.body["text"]["format"]["type"] == "json_schema"
    assert request.body["text"]["format"]["strict"] is True
    assert len(request.images) == 1 and request.images[0][:2] == b"\xff\xd8"


def test_429_then_200_honours_retry_after_ms(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.rate_limited(retry_after_s=None, retry_after_ms=300))
    outcome = assert_listing(extract(make_extractor, backoff_max_s=5.0))
    assert outcome.attempts == 2
    assert len(fake_openai_env.requests) == 2
    assert gaps(fake_openai_env)[0] >= 0.3


def test_retry_after_seconds_honoured(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.rate_limited(retry_after_s=1))
    assert_listing(extract(make_extractor, backoff_max_s=5.0))
    assert 1.0 <= gaps(fake_openai_env)[0] < 10.0


def test_retry_after_ms_wins_over_retry_after(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.rate_limited(retry_after_s=30, retry_after_ms=250))
    assert_listing(extract(make_extractor, backoff_max_s=60.0))
    assert 0.25 <= gaps(fake_openai_env)[0] < 15.0  # far below the 30 s retry-after


def test_retry_after_capped_by_backoff_max(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.rate_limited(retry_after_s=30))
    assert_listing(extract(make_extractor, backoff_max_s=0.2))
    assert gaps(fake_openai_env)[0] < 10.0  # far below the requested 30 s


def test_500_500_200(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.server_error(500), faults.server_error(500))
    outcome = assert_listing(extract(make_extractor))
    assert outcome.attempts == 3
    assert len(fake_openai_env.requests) == 3


def test_503_then_200(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.server_error(503))
    assert assert_listing(extract(make_extractor)).attempts == 2


def test_dropped_connection_then_200(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.drop())
    assert assert_listing(extract(make_extractor)).attempts == 2
    assert len(fake_openai_env.requests) == 2


def test_stall_past_timeout_then_200(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.stall(5.0))
    outcome = assert_listing(extract(make_extractor, timeout_s=0.4))
    assert outcome.attempts == 2
    assert 0.4 <= gaps(fake_openai_env)[0] < 4.5  # the stall would hold it 5 s


def test_400_fails_at_once_with_the_api_code(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.bad_request("model_not_found", "The model 'nope' does not exist."))
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.status, outcome.code) == ("api_error", 400, "model_not_found")
    assert outcome.message == "The model 'nope' does not exist."
    assert outcome.request_id is not None and outcome.request_id.startswith("req_")
    assert outcome.attempts == 1
    assert len(fake_openai_env.requests) == 1
    assert "model_not_found" in outcome.summary()


def test_insufficient_quota_is_not_retried(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.insufficient_quota())
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.status, outcome.code, outcome.attempts) == (429, "insufficient_quota", 1)
    assert len(fake_openai_env.requests) == 1


def test_retries_exhausted(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(*[faults.server_error(503)] * 5)
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.status, outcome.attempts) == ("api_error", 503, 4)
    assert len(fake_openai_env.requests) == 4
    assert fake_openai_env.pending_faults == 1


def test_connection_refused_exhausts_retries(monkeypatch: pytest.MonkeyPatch, make_extractor: MakeExtractor) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: nothing listens
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.status, outcome.attempts) == ("api_error", None, 4)


def test_sdk_retries_are_off(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.server_error(500), faults.server_error(500))
    outcome = extract(make_extractor, attempts=1)
    assert isinstance(outcome, ExtractionFailure) and outcome.status == 500
    assert len(fake_openai_env.requests) == 1  # the SDK would have retried 500 twice by default
    assert {r.headers.get("x-stainless-retry-count") for r in fake_openai_env.requests} <= {
        "0",
        None,
    }


def test_refusal(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.refusal("I can't describe this image."))
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.message, outcome.attempts) == (
        "refusal",
        "I can't describe this image.",
        1,
    )
    assert outcome.response_id is not None and outcome.response_id.startswith("resp_")


def test_incomplete(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.incomplete())
    outcome = extract(make_extractor, max_output_tokens=40)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.code) == ("incomplete", "max_output_tokens")
    assert outcome.usage.output_tokens == 40
    assert len(fake_openai_env.requests) == 1


def test_invalid_json(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.invalid_json())
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert outcome.type == "invalid_output"
    assert outcome.usage.output_tokens > 0


def test_schema_invalid_names_the_field(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.schema_invalid())
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert outcome.type == "invalid_output"
    assert "category" in outcome.message or "condition" in outcome.message


def test_empty_output_is_invalid(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    fake_openai_env.enqueue(faults.invalid_json(""))
    outcome = extract(make_extractor)
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.code) == ("invalid_output", "empty_output")


def test_answers_keyed_by_image_hash(fake_openai_env: FakeOpenAI, make_extractor: MakeExtractor) -> None:
    from extractor.images import prepare_image

    other = {**DEFAULT_LISTING, "title": "Blue thing", "color": "blue", "brand": "Acme"}
    fake_openai_env.answer_image(prepare_image(PHOTO).sha256, other)
    outcome = extract(make_extractor)
    assert isinstance(outcome, Extraction)
    assert json.loads(outcome.listing.model_dump_json()) == other
