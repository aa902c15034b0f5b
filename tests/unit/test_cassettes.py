"""Extractions replayed from cassettes/unit/test_cassettes/ with pytest-recording.

Replay needs no server and no key. To re-record (against the in-process fake server):

    pytest -m unit tests/unit/test_cassettes.py --record-mode=rewrite -p no:randomly
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from extractor.client import Extractor
from extractor.outcome import Extraction, ExtractionFailure
from pytest_listingeval.cassettes import safe_uri, use_cassette
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from pytest_listingeval.fake_openai.fixtures import DUMMY_API_KEY
from tests.fakes.listing import DEFAULT_LISTING
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
    with FakeOpenAI(default_answer=DEFAULT_LISTING) as fake:
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


def test_credentials_in_the_url_never_reach_a_cassette(tmp_path: Path) -> None:
    """`http://user:pass@host/v1/...?api-key=...` is recorded as `http://host/v1/...?api-key=REDACTED`."""
    cassette = tmp_path / "c.yaml"
    with FakeOpenAI() as fake:
        url = fake.base_url.replace("http://", "http://alice:s3cret-pass@", 1) + "/responses?api-key=k3y-value&x=1"
        with use_cassette(cassette, "once"):
            httpx.post(url, json={"model": "m"}, timeout=10)
    text = cassette.read_text(encoding="utf-8")
    assert "alice" not in text and "s3cret-pass" not in text and "k3y-value" not in text
    assert f"uri: {fake.base_url}/responses?api-key=REDACTED&x=1" in text


@pytest.mark.parametrize(
    ("uri", "safe"),
    [
        ("http://u:p@127.0.0.1:8765/v1/responses", "http://127.0.0.1:8765/v1/responses"),
        ("https://u@api.example/v1/r?token=t&keep=1", "https://api.example/v1/r?token=REDACTED&keep=1"),
        ("http://[::1]:80/v1/r?Signature=s", "http://[::1]:80/v1/r?Signature=REDACTED"),
        ("https://api.openai.com/v1/responses", "https://api.openai.com/v1/responses"),
        # Credential names an exact list misses, as gateways spell them; api-version stays.
        ("https://gw/v1/r?x-api-key=s&api-version=2024", "https://gw/v1/r?x-api-key=REDACTED&api-version=2024"),
        ("https://gw/v1/r?subscription-key=s", "https://gw/v1/r?subscription-key=REDACTED"),
        ("https://gw/v1/r?Ocp-Apim-Subscription-Key=s", "https://gw/v1/r?Ocp-Apim-Subscription-Key=REDACTED"),
        (
            "https://gw/v1/r?access-token=s&client_secret=t",
            "https://gw/v1/r?access-token=REDACTED&client_secret=REDACTED",
        ),
        (
            "https://gw/v1/r?sv=1&sig=s&X-Amz-Credential=c",
            "https://gw/v1/r?sv=1&sig=REDACTED&X-Amz-Credential=REDACTED",
        ),
    ],
)
def test_safe_uri(uri: str, safe: str) -> None:
    """Userinfo goes, credential-looking query values are redacted, everything else stays."""
    assert safe_uri(uri) == safe
