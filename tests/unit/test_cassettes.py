"""Extractions replayed from cassettes/unit/test_cassettes/ with pytest-recording.

Replay needs no server and no key. To re-record (against the in-process fake server):

    pytest -m unit tests/unit/test_cassettes.py --record-mode=rewrite -p no:randomly
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extractor.client import Extractor
from extractor.outcome import Extraction, ExtractionFailure
from tests.fakes import faults
from tests.fakes.plugin import DUMMY_API_KEY
from tests.fakes.server import FakeOpenAI
from tests.fakes.shapes import DEFAULT_LISTING
from tests.unit import photos
from tests.unit.conftest import FAST

pytestmark = [pytest.mark.unit, pytest.mark.vcr]

PHOTO = photos.jpeg_bytes((96, 64), (30, 90, 160))
# Nothing listens on the discard port: on replay every answer must come from the cassette.
NOWHERE = "http://127.0.0.1:9/v1"


@pytest.fixture
def recorder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI | None]:
    """The fake server when recording; None on replay (the default `--record-mode=none`)."""
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_API_KEY)
    if (request.config.getoption("--record-mode") or "none") == "none":
        monkeypatch.setenv("OPENAI_BASE_URL", NOWHERE)
        yield None
        return
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        yield fake


def extract(prompt: str | None = None) -> Extraction | ExtractionFailure:
    return Extractor(FAST.with_overrides(attempts=1)).extract_bytes(PHOTO, prompt=prompt)


def test_listing_replayed(recorder: FakeOpenAI | None) -> None:
    outcome = extract()
    assert isinstance(outcome, Extraction), outcome
    assert outcome.listing.model_dump(mode="json") == DEFAULT_LISTING
    assert outcome.response_id is not None and outcome.response_id.startswith("resp_")
    assert outcome.usage.input_tokens > 0


def test_refusal_replayed(recorder: FakeOpenAI | None) -> None:
    if recorder is not None:
        recorder.enqueue(faults.refusal("I can't help with that image."))
    outcome = extract()
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.message) == ("refusal", "I can't help with that image.")


def test_model_not_found_replayed(recorder: FakeOpenAI | None) -> None:
    if recorder is not None:
        recorder.enqueue(faults.bad_request("model_not_found", "The model does not exist."))
    outcome = extract()
    assert isinstance(outcome, ExtractionFailure)
    assert (outcome.type, outcome.status, outcome.code) == ("api_error", 400, "model_not_found")
