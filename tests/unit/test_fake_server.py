"""The fake OpenAI server itself: real shapes, concurrency under latency, standalone mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from extractor.client import Extractor
from extractor.images import prepare_image
from extractor.outcome import Extraction, ExtractionFailure
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from pytest_listingeval.fake_openai.answers import load_answers
from pytest_listingeval.fake_openai.fixtures import DUMMY_API_KEY
from tests.fakes.listing import DEFAULT_LISTING
from tests.unit import photos, real_openai
from tests.unit.conftest import FAST, ROOT

pytestmark = pytest.mark.unit

AUTH = {"authorization": f"Bearer {DUMMY_API_KEY}"}
MINIMAL = {"model": "gpt-4.1-mini", "input": "hi"}


def post(fake: FakeOpenAI, path: str = "/responses", **kwargs: Any) -> httpx2.Response:
    kwargs.setdefault("headers", AUTH)
    kwargs.setdefault("json", MINIMAL)
    return httpx2.post(fake.base_url + path, timeout=10, **kwargs)


def test_response_has_the_real_shape(fake_openai: FakeOpenAI) -> None:
    real = real_openai.load("mirascope_responses_json_schema_refusal.yaml")
    answer = post(fake_openai)
    assert answer.status_code == 200
    body = answer.json()
    assert set(real.json()) <= set(body), set(real.json()) - set(body)
    assert set(real.json()["usage"]) == set(body["usage"])
    assert body["id"].startswith("resp_") and body["object"] == "response"
    assert body["output"][0]["id"].startswith("msg_")
    assert json.loads(body["output"][0]["content"][0]["text"]) == DEFAULT_LISTING
    assert answer.headers["x-request-id"].startswith("req_")
    assert answer.headers["openai-processing-ms"].isdigit()
    assert body["model"] == "gpt-4.1-mini-2025-04-14"


def test_error_envelope_has_the_real_shape(fake_openai: FakeOpenAI) -> None:
    real = real_openai.load("mirascope_responses_400_model_not_found.yaml")
    fake_openai.enqueue(faults.bad_request("model_not_found"))
    answer = post(fake_openai)
    assert answer.status_code == 400
    assert set(answer.json()["error"]) == set(real.json()["error"])
    assert answer.json()["error"]["code"] == "model_not_found"


def test_rate_limit_headers(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(faults.rate_limited(retry_after_s=2, retry_after_ms=1500))
    answer = post(fake_openai)
    assert answer.status_code == 429
    assert (answer.headers["retry-after"], answer.headers["retry-after-ms"]) == ("2", "1500")
    assert answer.json()["error"]["code"] == "rate_limit_exceeded"


def test_unknown_path_and_missing_key(fake_openai: FakeOpenAI) -> None:
    assert post(fake_openai, "/completions").status_code == 404
    assert post(fake_openai, headers={}).status_code == 401
    assert [r.path for r in fake_openai.requests] == ["/v1/completions", "/v1/responses"]


def test_answer_using_a_function(fake_openai: FakeOpenAI) -> None:
    fake_openai.answer_using(lambda r: faults.refusal() if r.body and r.body["input"] == "no" else None)
    assert post(fake_openai, json={**MINIMAL, "input": "no"}).json()["output"][0]["content"][0]["type"] == "refusal"
    assert post(fake_openai).json()["output"][0]["content"][0]["type"] == "output_text"


def test_many_concurrent_requests_under_latency(fake_openai: FakeOpenAI) -> None:
    fake_openai.latency_s = 0.3
    started = time.monotonic()
    url = fake_openai.base_url + "/responses"
    with httpx2.Client(headers=AUTH, timeout=10) as client, ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(lambda _: client.post(url, json=MINIMAL).status_code, range(40)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 40
    assert 0.3 <= elapsed < 8.0  # 40 x 0.3 s would take 12 s one at a time
    assert len(fake_openai.requests) == 40


def test_load_answers(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"ab" * 32: DEFAULT_LISTING, "cd" * 32: {"fault": "refusal"}}))
    table, default = load_answers(path)
    assert default is None
    assert table["ab" * 32] == DEFAULT_LISTING
    assert isinstance(table["cd" * 32], faults.Fault) and table["cd" * 32].kind == "refusal"
    path.write_text(json.dumps({"default": {"fault": "nope"}}))
    with pytest.raises(ValueError, match="unknown fault"):
        load_answers(path)


def test_standalone_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known, refused, unknown = (photos.jpeg_bytes(color=c) for c in ((1, 2, 3), (200, 0, 0), (0, 200, 0)))
    other = {**DEFAULT_LISTING, "title": "Standalone answer", "brand": "Acme"}
    answers = {
        prepare_image(known).sha256: other,
        prepare_image(refused).sha256: {"fault": "refusal"},
    }
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_listingeval.fake_openai", "--port", "0", "--latency-ms", "50",
         "--answers", str(tmp_path / "answers.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        monkeypatch.setenv("OPENAI_BASE_URL", line.split()[-1])
        monkeypatch.setenv("OPENAI_API_KEY", DUMMY_API_KEY)
        extractor = Extractor(FAST.with_overrides(attempts=1))
        ok = extractor.extract_bytes(known)
        assert isinstance(ok, Extraction) and ok.listing.model_dump(mode="json") == other
        assert ok.latency_ms >= 50
        refusal = extractor.extract_bytes(refused)
        assert isinstance(refusal, ExtractionFailure) and refusal.type == "refusal"
        missing = extractor.extract_bytes(unknown)
        assert isinstance(missing, ExtractionFailure)
        assert (missing.status, missing.code) == (400, "fake_no_answer")
        assert prepare_image(unknown).sha256 in missing.message
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "served 3 requests" in err
