"""No cassette under cassettes/ may hold a secret or an image; the scrubbing helpers work."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from extractor.client import Extractor
from extractor.outcome import Extraction
from pytest_listingeval.fake_openai.fixtures import DUMMY_API_KEY
from tests.unit import photos, test_cassettes
from tests.unit.cassette_hygiene import (
    bodies_match,
    canonical_body,
    find_leaks,
    hash_images,
    scrub_request,
    scrub_response,
    vcr_config,
)
from tests.unit.conftest import FAST, ROOT, UNIT_CASSETTES

pytestmark = pytest.mark.unit

JPEG = photos.jpeg_bytes()
DATA_URL = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
SHA = "sha256:" + hashlib.sha256(JPEG).hexdigest()


def all_cassettes() -> list[Path]:
    return sorted(p for p in (ROOT / "cassettes").rglob("*") if p.suffix in (".yaml", ".yml"))


def test_every_cassette_is_clean() -> None:
    cassettes = all_cassettes()
    assert len([p for p in cassettes if UNIT_CASSETTES in p.parents]) >= 3, "unit cassettes missing"
    problems = [problem for path in cassettes for problem in find_leaks(path)]
    assert problems == []


def test_stored_requests_hold_the_image_hash() -> None:
    for path in sorted(UNIT_CASSETTES.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for interaction in data["interactions"]:
            body = json.loads(interaction["request"]["body"])
            part = body["input"][0]["content"][0]
            assert part["image_url"].startswith("sha256:"), path
            assert len(part["image_url"]) == len("sha256:") + 64


def test_vcr_config_never_sets_record_mode() -> None:
    config = vcr_config()
    assert "record_mode" not in config
    assert config["match_on"] == ["method", "path", "canonical_body"]
    assert {"authorization", "api-key", "openai-organization", "openai-project", "cookie"} <= set(
        config["filter_headers"]
    )


def test_hash_images_replaces_data_urls_anywhere() -> None:
    body: dict[str, Any] = {
        "input": [{"content": [{"type": "input_image", "image_url": DATA_URL}]}],
        "n": 1,
    }
    hashed = hash_images(body)
    assert hashed["input"][0]["content"][0]["image_url"] == SHA
    assert hashed["n"] == 1
    assert body["input"][0]["content"][0]["image_url"] == DATA_URL  # the input is not mutated
    assert hash_images(f"see {DATA_URL} here") == f"see {SHA} here"


def test_canonical_body_ignores_key_order_and_spacing() -> None:
    a = json.dumps({"model": "m", "input": [{"image_url": DATA_URL}]}).encode()
    b = json.dumps({"input": [{"image_url": DATA_URL}], "model": "m"}, indent=4)
    expected = '{"input":[{"image_url":"' + SHA + '"}],"model":"m"}'
    assert canonical_body(a) == canonical_body(b) == expected


def test_body_matcher_tells_prompts_and_images_apart() -> None:
    def request(instructions: str, image: str) -> SimpleNamespace:
        body = {"instructions": instructions, "input": [{"image_url": image}]}
        return SimpleNamespace(body=json.dumps(body).encode())

    bodies_match(request("a", DATA_URL), request("a", DATA_URL))
    other_image = "data:image/jpeg;base64," + base64.b64encode(JPEG + b"x").decode()
    for other in (request("b", DATA_URL), request("a", other_image)):
        with pytest.raises(AssertionError):
            bodies_match(request("a", DATA_URL), other)


def test_scrub_request_and_response() -> None:
    req = SimpleNamespace(uri="http://u:p@x/v1/responses?key=k", body=json.dumps({"b": DATA_URL, "a": 1}).encode())
    scrubbed = scrub_request(req)
    assert scrubbed.body == ('{"a":1,"b":"' + SHA + '"}').encode()
    assert scrubbed.uri == "http://x/v1/responses?key=REDACTED"
    response = {
        "headers": {
            "Set-Cookie": ["x"],
            "openai-organization": ["o"],
            "OpenAI-Project": ["p"],
            "x-request-id": ["r"],
        }
    }
    assert scrub_response(response)["headers"] == {"x-request-id": ["r"]}


def write_cassette(
    path: Path, request_headers: dict[str, list[str]], body: str, uri: str = "http://x/v1/responses"
) -> Path:
    interaction = {
        "request": {
            "method": "POST",
            "uri": uri,
            "body": body,
            "headers": request_headers,
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {},
            "body": {"string": "{}"},
        },
    }
    path.write_text(yaml.safe_dump({"interactions": [interaction], "version": 1}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("headers", "body", "what"),
    [
        ({"Authorization": ["Bearer abcdef123456"]}, "{}", "Authorization"),
        ({"api-key": ["k"]}, "{}", "api-key"),
        ({"OpenAI-Organization": ["org-1"]}, "{}", "OpenAI-Organization"),
        ({"openai-project": ["proj_1"]}, "{}", "openai-project"),
        ({}, '{"key": "sk-proj-abcdefghijklmnop"}', "sk-"),
        ({}, '{"h": "Bearer abcdefghij"}', "bearer"),
        ({}, json.dumps({"image_url": DATA_URL}), "base64 image"),
    ],
)
def test_find_leaks_flags_each_kind(tmp_path: Path, headers: dict[str, list[str]], body: str, what: str) -> None:
    problems = find_leaks(write_cassette(tmp_path / "dirty.yaml", headers, body))
    assert problems, f"{what} was not flagged"
    assert any(what.lower() in p.lower() for p in problems), problems


@pytest.mark.parametrize("uri", ["http://user:pass@x/v1/responses", "http://x/v1/responses?api-key=abc"])
def test_find_leaks_flags_credentials_in_the_uri(tmp_path: Path, uri: str) -> None:
    problems = find_leaks(write_cassette(tmp_path / "dirty.yaml", {}, "{}", uri=uri))
    assert any("uri holds credentials" in p for p in problems), problems


def test_find_leaks_passes_a_clean_cassette(tmp_path: Path) -> None:
    clean = write_cassette(
        tmp_path / "clean.yaml",
        {"content-type": ["application/json"]},
        json.dumps({"image_url": SHA}),
    )
    assert find_leaks(clean) == []


def test_changed_prompt_or_image_does_not_replay_a_stale_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", test_cassettes.NOWHERE)
    player = vcr.VCR(**vcr_config())
    player.register_matcher("canonical_body", bodies_match)
    cassette = UNIT_CASSETTES / "test_cassettes" / "test_listing_replayed.yaml"
    extractor = Extractor(FAST.with_overrides(attempts=1))
    with player.use_cassette(str(cassette), record_mode="none", allow_playback_repeats=True):
        assert isinstance(extractor.extract_bytes(test_cassettes.PHOTO), Extraction)
        with pytest.raises(CannotOverwriteExistingCassetteException):
            extractor.extract_bytes(test_cassettes.PHOTO, prompt="concise")
        with pytest.raises(CannotOverwriteExistingCassetteException):
            extractor.extract_bytes(photos.jpeg_bytes((96, 64), (31, 90, 160)))
