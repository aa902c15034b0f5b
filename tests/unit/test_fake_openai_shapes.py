"""The fake's Chat Completions shapes against real recordings; request parsing; schema breaking."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from enum import StrEnum
from typing import Any

import httpx2
import pydantic
import pytest

from pytest_listingeval.fake_openai import FakeOpenAI, RecordedRequest, faults
from pytest_listingeval.fake_openai.bad_output import OFF_SCHEMA, break_schema
from pytest_listingeval.fake_openai.fixtures import DUMMY_API_KEY
from tests.unit import real_openai

pytestmark = pytest.mark.unit

AUTH = {"authorization": f"Bearer {DUMMY_API_KEY}"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
CHAT_ID = re.compile(r"chatcmpl-[A-Za-z0-9]{29}")


def post(fake: FakeOpenAI, path: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(fake.base_url + path, json=body, headers=AUTH, timeout=10)


def test_chat_answer_has_the_real_shape(fake_openai: FakeOpenAI) -> None:
    real = real_openai.load("mirascope_chat_json_schema_strict_nested_defs.yaml").json()
    fake_openai.answer_with({"title": "THE NAME OF THE WIND"})
    body = post(fake_openai, "/chat/completions", CHAT).json()
    assert set(body) == set(real)
    assert set(body["choices"][0]) == set(real["choices"][0])
    assert set(body["choices"][0]["message"]) == set(real["choices"][0]["message"])
    assert CHAT_ID.fullmatch(real["id"]) and CHAT_ID.fullmatch(body["id"])
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4o-2025-04-14"
    assert body["choices"][0]["message"]["content"] == '{"title": "THE NAME OF THE WIND"}'
    assert (body["choices"][0]["finish_reason"], body["choices"][0]["message"]["refusal"]) == ("stop", None)


def test_chat_refusal_and_length_have_the_real_shape(fake_openai: FakeOpenAI) -> None:
    refused = real_openai.load("openllmetry_chat_json_schema_refusal.yaml", index=2).json()["choices"][0]
    cut = real_openai.load("mirascope_chat_gpt5mini_length_all_reasoning.yaml").json()["choices"][0]
    fake_openai.enqueue(faults.refusal(refused["message"]["refusal"]), faults.incomplete())
    ours = post(fake_openai, "/chat/completions", CHAT).json()["choices"][0]
    assert ours["message"] == refused["message"] and ours["finish_reason"] == refused["finish_reason"]
    ours = post(fake_openai, "/chat/completions", {**CHAT, "max_tokens": 7}).json()
    assert ours["choices"][0]["finish_reason"] == cut["finish_reason"] == "length"
    assert isinstance(ours["choices"][0]["message"]["content"], str)
    assert ours["usage"]["completion_tokens"] == 7  # the older max_tokens is the budget too


@pytest.mark.parametrize(
    ("recording", "path"),
    [
        ("mirascope_chat_image_base64.yaml", "/chat/completions"),
        ("mirascope_responses_input_image_base64.yaml", "/responses"),
    ],
)
def test_real_image_requests_are_decoded(fake_openai: FakeOpenAI, recording: str, path: str) -> None:
    sent = real_openai.request_json(recording)
    post(fake_openai, path, sent)
    (request,) = fake_openai.requests
    (image,) = request.images
    (encoded,) = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", json.dumps(sent))
    assert image == base64.b64decode(encoded) and image.startswith(b"\x89PNG\r\n\x1a\n")
    assert request.image_sha256 == (hashlib.sha256(image).hexdigest(),)
    assert request.texts == ("Describe the following image in one sentence",)


def test_texts_images_and_schema_read_from_either_body() -> None:
    png = base64.b64encode(b"png bytes").decode()
    responses = RecordedRequest.parse(
        "POST",
        "/v1/responses?x=1",
        {},
        {
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "one"}]},
                {"role": "user", "content": "two"},
                {"role": "user", "content": [{"type": "input_image", "image_url": f"data:image/png;base64,{png}"}]},
                {"role": "user", "content": [{"type": "input_image", "image_url": "https://example.com/a.png"}]},
            ],
            "text": {"format": {"type": "json_schema", "name": "A", "schema": {"type": "object"}}},
        },
    )
    assert responses.endpoint == "responses"
    assert responses.texts == ("Be brief.", "one", "two") and responses.text == "Be brief.\none\ntwo"
    assert responses.images == (b"png bytes",)  # a remote URL is not fetched
    assert responses.json_schema == {"type": "object"}
    chat = RecordedRequest.parse(
        "POST",
        "/v1/chat/completions",
        {},
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": {"type": "array"}}},
        },
    )
    assert chat.endpoint == "chat.completions" and chat.texts == ("Be brief.",)
    assert chat.images == (b"",)  # undecodable base64 still counts as an image
    assert chat.json_schema == {"type": "array"}
    other = RecordedRequest.parse("POST", "/v1/completions", {}, {"response_format": {"type": "json_object"}})
    assert (other.endpoint, other.json_schema, other.texts, other.images) == (None, None, (), ())


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Paint(pydantic.BaseModel):
    name: str
    colour: Colour
    shade: Colour | None
    coats: int
    glossy: bool
    note: str | None


def test_break_schema_changes_only_the_fields_that_reject_a_string() -> None:
    answer = {"name": "Sky", "colour": "blue", "shade": None, "coats": 2, "glossy": True, "note": None}
    broken = break_schema(answer, Paint.model_json_schema())
    assert broken == {**answer, "colour": OFF_SCHEMA, "shade": OFF_SCHEMA, "coats": OFF_SCHEMA, "glossy": OFF_SCHEMA}
    with pytest.raises(pydantic.ValidationError) as invalid:
        Paint.model_validate(broken)
    assert {e["loc"][0] for e in invalid.value.errors()} == {"colour", "shade", "coats", "glossy"}


def test_break_schema_without_limited_fields_leaves_out_the_required_ones() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}, "required": ["a"]}
    assert break_schema({"a": "x", "b": 1}, schema) == {"b": 1}
    assert break_schema({"a": "x"}, {"type": "object", "properties": {"a": {"type": "string"}}}) == [{"a": "x"}]
    assert break_schema({"a": "x"}, None) == [{"a": "x"}]


def test_break_schema_stops_on_a_recursive_schema() -> None:
    schema = {
        "$defs": {"Loop": {"anyOf": [{"$ref": "#/$defs/Loop"}]}},
        "properties": {"a": {"$ref": "#/$defs/Loop"}, "b": {"$ref": "#/$defs/Missing"}},
        "required": ["a"],
    }
    assert break_schema({"a": 1, "b": 2}, schema) == {"b": 2}  # neither is known to reject a string


def test_rejected_requests_leave_the_queued_faults(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(faults.refusal("no"))
    unauthorised = httpx2.post(fake_openai.base_url + "/chat/completions", json=CHAT, timeout=10)
    assert unauthorised.status_code == 401
    assert post(fake_openai, "/completions", CHAT).status_code == 404
    assert fake_openai.pending_faults == 1
    answer = post(fake_openai, "/chat/completions", CHAT).json()
    assert answer["choices"][0]["message"]["refusal"] == "no" and fake_openai.pending_faults == 0
    assert len(fake_openai.requests) == 3  # rejected requests are recorded all the same
