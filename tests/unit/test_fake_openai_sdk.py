"""The shipped fake OpenAI server through the real openai SDK, on Responses and Chat Completions."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import openai
import pydantic
import pytest

from pytest_listingeval.fake_openai import FakeOpenAI, faults
from pytest_listingeval.fake_openai.bad_output import OFF_SCHEMA
from tests.unit import real_openai

pytestmark = pytest.mark.unit

ENDPOINTS = ["responses", "chat.completions"]
MODEL = "gpt-4.1-mini"
PROMPT = "Describe the pet in the photo."
REX = {"name": "Rex", "legs": 4}
CAT_PHOTO = b"\x89PNG\r\n\x1a\n fake cat photo"
DOG_PHOTO = b"\x89PNG\r\n\x1a\n fake dog photo"


class Pet(pydantic.BaseModel):
    name: str
    legs: int


class Mood(StrEnum):
    HAPPY = "happy"
    GRUMPY = "grumpy"


class Cat(pydantic.BaseModel):
    name: str
    mood: Mood


@pytest.fixture
def fake(fake_openai_env: FakeOpenAI) -> FakeOpenAI:
    """The plugin's server, answering Rex unless a test says otherwise."""
    fake_openai_env.answer_with(REX)
    return fake_openai_env


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    """An SDK client configured only by the environment the fixture set, without retries."""
    with openai.OpenAI(max_retries=0, timeout=5) as sdk:
        yield sdk


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_url(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode()


def parse_responses(client: openai.OpenAI, fmt: type[pydantic.BaseModel], image: bytes | None, **kw: Any) -> Any:
    """`responses.parse` with the prompt and an optional `input_image`; the whole ParsedResponse."""
    content: list[Any] = [{"type": "input_text", "text": PROMPT}]
    if image is not None:
        content.append({"type": "input_image", "image_url": data_url(image), "detail": "low"})
    return client.responses.parse(model=MODEL, input=[{"role": "user", "content": content}], text_format=fmt, **kw)


def parse_chat(client: openai.OpenAI, fmt: type[pydantic.BaseModel], image: bytes | None, **kw: Any) -> Any:
    """`chat.completions.parse` with the prompt and an optional `image_url` part; the whole completion."""
    content: list[Any] = [{"type": "text", "text": PROMPT}]
    if image is not None:
        content.append({"type": "image_url", "image_url": {"url": data_url(image), "detail": "low"}})
    messages: Any = [{"role": "user", "content": content}]
    return client.chat.completions.parse(model=MODEL, messages=messages, response_format=fmt, **kw)


def ask(client: openai.OpenAI, endpoint: str, fmt: type[pydantic.BaseModel] = Pet, image: bytes | None = None) -> Any:
    """The parsed object either endpoint returns."""
    if endpoint == "responses":
        return parse_responses(client, fmt, image).output_parsed
    return parse_chat(client, fmt, image).choices[0].message.parsed


def raw_json(client: openai.OpenAI, endpoint: str, image: bytes | None = None) -> dict[str, Any]:
    """The body as sent, from a `parse` call on either endpoint."""
    messages: Any
    if endpoint == "responses":
        content: list[Any] = [{"type": "input_text", "text": PROMPT}]
        if image is not None:
            content.append({"type": "input_image", "image_url": data_url(image), "detail": "low"})
        messages = [{"role": "user", "content": content}]
        raw = client.responses.with_raw_response.parse(model=MODEL, input=messages, text_format=Pet).http_response
    else:
        parts: list[Any] = [{"type": "text", "text": PROMPT}]
        if image is not None:
            parts.append({"type": "image_url", "image_url": {"url": data_url(image)}})
        messages = [{"role": "user", "content": parts}]
        raw = client.chat.completions.with_raw_response.parse(
            model=MODEL, messages=messages, response_format=Pet
        ).http_response
    body = raw.json()
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_parse_gets_the_scripted_object(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    assert ask(client, endpoint) == Pet(name="Rex", legs=4)
    (request,) = fake.requests
    assert request.endpoint == endpoint and request.model == MODEL
    assert request.texts == (PROMPT,)
    assert request.json_schema is not None and set(request.json_schema["properties"]) == {"name", "legs"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_plain_text_answer_without_a_schema(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.answer_with("A happy dog.")
    if endpoint == "responses":
        response = client.responses.create(model=MODEL, input=PROMPT)
        assert response.output_text == "A happy dog."
    else:
        completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}])
        assert completion.choices[0].message.content == "A happy dog."
    assert fake.requests[0].json_schema is None and fake.requests[0].texts == (PROMPT,)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_image_sha256_selects_the_answer(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.answer_with(None)
    fake.answer_image(sha256(CAT_PHOTO), {"name": "Tom", "legs": 4})
    fake.answer_image(sha256(DOG_PHOTO), {"name": "Rex", "legs": 3})
    assert ask(client, endpoint, image=DOG_PHOTO) == Pet(name="Rex", legs=3)
    assert ask(client, endpoint, image=CAT_PHOTO) == Pet(name="Tom", legs=4)
    assert [r.images for r in fake.requests] == [(DOG_PHOTO,), (CAT_PHOTO,)]
    with pytest.raises(openai.BadRequestError) as unknown:
        ask(client, endpoint, image=b"another photo")
    assert unknown.value.code == "fake_no_answer"
    assert sha256(b"another photo") in unknown.value.message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_answer_chosen_by_a_function_of_the_request(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    def by_request(request: Any) -> dict[str, Any] | None:
        if not request.images:
            return None  # falls through to the default (Rex)
        return {"name": f"{request.endpoint}:{request.text}", "legs": len(request.images[0])}

    fake.answer_using(by_request)
    assert ask(client, endpoint, image=CAT_PHOTO) == Pet(name=f"{endpoint}:{PROMPT}", legs=len(CAT_PHOTO))
    assert ask(client, endpoint) == Pet(name="Rex", legs=4)


def test_refusal_on_responses(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(faults.refusal("I can't help with that pet."))
    response = parse_responses(client, Pet, None)
    assert response.output_parsed is None
    (part,) = response.output[0].content
    assert (part.type, part.refusal) == ("refusal", "I can't help with that pet.")
    assert response.status == "completed"


def test_refusal_on_chat(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(faults.refusal("I can't help with that pet."))
    choice = parse_chat(client, Pet, None).choices[0]
    assert choice.message.refusal == "I can't help with that pet."
    assert (choice.message.parsed, choice.message.content, choice.finish_reason) == (None, None, "stop")


def test_incomplete_chat_raises_the_sdk_length_error(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(faults.incomplete())
    with pytest.raises(openai.LengthFinishReasonError) as cut:
        parse_chat(client, Pet, None, max_completion_tokens=30)
    completion = cut.value.completion
    assert completion.choices[0].finish_reason == "length"
    full = json.dumps(REX)
    assert completion.choices[0].message.content == full[: len(full) // 2]
    assert completion.usage is not None and completion.usage.completion_tokens == 30


def test_incomplete_responses_is_status_incomplete(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(faults.incomplete(), faults.incomplete())
    with pytest.raises(pydantic.ValidationError):  # the SDK parses the truncated JSON
        parse_responses(client, Pet, None, max_output_tokens=30)
    response = client.responses.create(model=MODEL, input=PROMPT, max_output_tokens=30)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 30


def test_content_filter_on_both_endpoints(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(faults.content_filter(), faults.content_filter())
    with pytest.raises(openai.ContentFilterFinishReasonError):
        parse_chat(client, Pet, None)
    response = client.responses.create(model=MODEL, input=PROMPT)
    assert response.incomplete_details is not None and response.incomplete_details.reason == "content_filter"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rate_limit_carries_retry_after(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.enqueue(faults.rate_limited(retry_after_s=2, retry_after_ms=1500))
    with pytest.raises(openai.RateLimitError) as limited:
        ask(client, endpoint)
    headers = limited.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("2", "1500")
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert (limited.value.status_code, limited.value.code) == (429, "rate_limit_exceeded")
    assert ask(client, endpoint) == Pet(name="Rex", legs=4)  # the fault was used up


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_insufficient_quota_has_the_real_body(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    real = real_openai.load_body("vercelai_responses_insufficient_quota_error_body.json", 429).json()["error"]
    fake.enqueue(faults.insufficient_quota())
    with pytest.raises(openai.RateLimitError) as quota:
        ask(client, endpoint)
    assert isinstance(quota.value.body, dict)
    assert set(quota.value.body) == set(real)
    assert (quota.value.type, quota.value.code) == (real["type"], real["code"])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_name_the_request_id(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str, status: int) -> None:
    fake.enqueue(faults.server_error(status))
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client, endpoint)
    assert failed.value.status_code == status and failed.value.type == "server_error" and failed.value.code is None
    assert failed.value.request_id is not None and failed.value.request_id in failed.value.message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_server_error_has_the_real_body(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    real = real_openai.load("ruby_openai_500_server_error_then_200_retry.yml").json()["error"]
    fake.enqueue(faults.server_error(500))
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client, endpoint)
    assert isinstance(failed.value.body, dict)
    ours, theirs = dict(failed.value.body), dict(real)
    ours["message"] = ours["message"].replace(str(failed.value.request_id), "REQUEST_ID")
    theirs["message"] = re.sub(r"req_[0-9a-f]{32}", "REQUEST_ID", theirs["message"])
    assert ours == theirs


@pytest.mark.parametrize(
    ("endpoint", "recording", "error_type"),
    [
        ("responses", "mirascope_responses_400_model_not_found.yaml", openai.BadRequestError),
        ("chat.completions", "mirascope_chat_404_model_not_found.yaml", openai.NotFoundError),
    ],
)
def test_model_not_found_as_the_real_api_sends_it(
    fake: FakeOpenAI, client: openai.OpenAI, endpoint: str, recording: str, error_type: type[openai.APIStatusError]
) -> None:
    real = real_openai.load(recording)
    real_model = real_openai.request_json(recording)["model"]
    fake.enqueue(faults.model_not_found())
    with pytest.raises(openai.APIStatusError) as missing:
        if endpoint == "responses":
            client.responses.create(model=real_model, input=PROMPT)
        else:
            client.chat.completions.create(model=real_model, messages=[{"role": "user", "content": PROMPT}])
    assert type(missing.value) is error_type
    assert missing.value.status_code == real.status
    assert missing.value.body == real.json()["error"]  # message, type, param and code alike


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_bad_request_is_400_on_both_endpoints(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.enqueue(faults.bad_request("invalid_value", "Invalid value for 'detail'.", param="detail"))
    with pytest.raises(openai.BadRequestError) as rejected:
        ask(client, endpoint)
    assert (rejected.value.code, rejected.value.param) == ("invalid_value", "detail")
    # openai 3.0 puts the whole body in the message, later releases only its text
    assert "Invalid value for 'detail'." in rejected.value.message


@pytest.mark.parametrize(
    ("endpoint", "recording"),
    [
        ("responses", "openllmetry_responses_json_schema.yaml"),
        ("chat.completions", "mirascope_chat_json_schema_strict_nested_defs.yaml"),
    ],
)
def test_usage_has_the_real_fields(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str, recording: str) -> None:
    real = real_openai.load(recording).json()["usage"]
    without_image = raw_json(client, endpoint)["usage"]
    usage = raw_json(client, endpoint, image=CAT_PHOTO)["usage"]
    assert set(usage) == set(real)
    for key, value in real.items():
        if isinstance(value, dict):
            assert set(usage[key]) == set(value), key
    counts = [value for value in usage.values() if isinstance(value, int)]
    assert len(counts) == 3 and all(count > 0 for count in counts)
    assert counts[0] + counts[1] == counts[2]  # input/prompt + output/completion == total
    first = next(iter(usage))
    assert usage[first] > without_image[first]  # the image counts in the prompt tokens


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_headers_on_answers_and_errors(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.enqueue(faults.model_not_found())
    with pytest.raises(openai.APIStatusError) as error:
        ask(client, endpoint)
    if endpoint == "responses":
        answer = client.responses.with_raw_response.create(model=MODEL, input=PROMPT).http_response
    else:
        messages: Any = [{"role": "user", "content": PROMPT}]
        answer = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages).http_response
    for headers in (error.value.response.headers, answer.headers):
        assert headers["x-request-id"].startswith("req_")
        assert headers["openai-processing-ms"].isdigit()
        assert headers["x-ratelimit-limit-requests"] and headers["x-ratelimit-remaining-tokens"]


def test_queued_faults_are_served_first_in_first_out_across_endpoints(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(faults.server_error(500), faults.rate_limited(), faults.refusal("no"))
    assert fake.pending_faults == 3
    with pytest.raises(openai.InternalServerError):
        ask(client, "chat.completions")
    with pytest.raises(openai.RateLimitError):
        ask(client, "responses")
    assert parse_chat(client, Pet, None).choices[0].message.refusal == "no"
    assert fake.pending_faults == 0
    assert ask(client, "responses") == Pet(name="Rex", legs=4)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_schema_invalid_breaks_the_requested_schema(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.answer_with({"name": "Tom", "mood": "grumpy"})
    assert ask(client, endpoint, fmt=Cat) == Cat(name="Tom", mood=Mood.GRUMPY)
    fake.enqueue(faults.schema_invalid())
    with pytest.raises(pydantic.ValidationError) as invalid:
        ask(client, endpoint, fmt=Cat)
    assert [error["loc"] for error in invalid.value.errors()] == [("mood",)]
    assert invalid.value.errors()[0]["input"] == OFF_SCHEMA
    fake.enqueue(faults.schema_invalid({"name": 7}))
    with pytest.raises(pydantic.ValidationError) as given:
        ask(client, endpoint, fmt=Cat)
    assert {error["loc"] for error in given.value.errors()} == {("name",), ("mood",)}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_invalid_json_fails_the_sdk_parse(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.enqueue(faults.invalid_json('{"name": "Rex", '))
    with pytest.raises(pydantic.ValidationError) as invalid:
        ask(client, endpoint)
    assert invalid.value.errors()[0]["type"] == "json_invalid"


def test_stall_times_out_and_drop_disconnects_on_chat(fake: FakeOpenAI) -> None:
    fake.enqueue(faults.stall(5), faults.drop())
    with openai.OpenAI(max_retries=0, timeout=0.5) as impatient:
        with pytest.raises(openai.APITimeoutError):
            parse_chat(impatient, Pet, None)
        with pytest.raises(openai.APIConnectionError):
            parse_chat(impatient, Pet, None)
        assert parse_chat(impatient, Pet, None).choices[0].message.parsed == Pet(name="Rex", legs=4)
    assert [r.endpoint for r in fake.requests] == ["chat.completions"] * 3


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_streaming_is_refused_with_a_clear_error(fake: FakeOpenAI, client: openai.OpenAI, endpoint: str) -> None:
    fake.enqueue(faults.refusal())
    with pytest.raises(openai.BadRequestError) as refused:
        if endpoint == "responses":
            client.responses.create(model=MODEL, input=PROMPT, stream=True)
        else:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True)
    assert refused.value.code == "fake_no_streaming" and "does not stream" in refused.value.message
    assert fake.pending_faults == 1  # a refused stream does not use up a queued fault
