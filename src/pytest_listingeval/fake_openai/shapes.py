"""What every OpenAI endpoint shares: ids, headers, the error envelope, token estimates."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_listingeval.fake_openai.recorded import RecordedRequest

# Real responses name a dated snapshot even when the request names the alias.
_SNAPSHOT_SUFFIX = "-2025-04-14"
_ALPHANUMERIC = string.ascii_letters + string.digits
# A rough, deterministic token count: text / 4, plus a flat amount per image.
_CHARS_PER_TOKEN = 4
_TOKENS_PER_IMAGE = 85


@dataclass(frozen=True)
class Output:
    """What the model "said", before an endpoint shapes it: text, a refusal, or text cut short."""

    text: str | None
    refusal: str | None = None
    cut_short: str | None = None  # the Responses API's incomplete reason
    output_tokens: int | None = None  # default: estimated from the text


@dataclass(frozen=True)
class ApiError:
    """An error response: status and the envelope's message, type, code and param."""

    status: int
    message: str
    type: str
    code: str | None
    param: str | None = None


@dataclass(frozen=True)
class EndpointShapes:
    """How one endpoint renders an answer, reads its token budget and rejects an unknown model."""

    body: Callable[[RecordedRequest, Output], dict[str, Any]]
    token_budget: Callable[[RecordedRequest], int | None]
    model_not_found: Callable[[RecordedRequest], ApiError]


def new_id(prefix: str) -> str:
    """A Responses-style id: prefix, underscore, 50 hex digits."""
    return f"{prefix}_{secrets.token_hex(25)}"


def chat_id() -> str:
    """A Chat Completions id: `chatcmpl-` and 29 letters or digits."""
    return "chatcmpl-" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(29))


def request_id() -> str:
    """An `x-request-id` value in the API's style."""
    return f"req_{secrets.token_hex(16)}"


def snapshot_model(model: str) -> str:
    """The dated model name the API reports for a requested alias."""
    if not model or model[-10:-6].isdigit():
        return model
    return model + _SNAPSHOT_SUFFIX


def base_headers(x_request_id: str, processing_ms: int) -> dict[str, str]:
    """Headers every real response carries, including the ones cassettes must strip."""
    return {
        "content-type": "application/json",
        "x-request-id": x_request_id,
        "openai-processing-ms": str(processing_ms),
        "openai-version": "2020-10-01",
        # Real responses name the caller's organisation and project and set a cookie;
        # the fake sends dummies so cassette scrubbing is exercised for real.
        "openai-organization": "fake-org-not-real",
        "openai-project": "proj_fakeNotReal0000000000",
        "set-cookie": "__cf_bm=fake-cookie-not-real; path=/; HttpOnly; Secure; SameSite=None",
        "x-ratelimit-limit-requests": "5000",
        "x-ratelimit-remaining-requests": "4999",
        "x-ratelimit-reset-requests": "12ms",
        "x-ratelimit-limit-tokens": "800000",
        "x-ratelimit-remaining-tokens": "799000",
        "x-ratelimit-reset-tokens": "5ms",
    }


def error_body(error: ApiError) -> bytes:
    """The API's error envelope: `{"error": {message, type, param, code}}`."""
    envelope = {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
    return json.dumps(envelope, indent=2).encode()


def estimate_input_tokens(request: RecordedRequest) -> int:
    """Prompt tokens for the request: its texts and schema by length, plus a flat amount per image."""
    schema = json.dumps(request.json_schema) if request.json_schema is not None else ""
    return (len(request.text) + len(schema)) // _CHARS_PER_TOKEN + _TOKENS_PER_IMAGE * len(request.images)


def output_tokens(output: Output) -> int:
    """The output's token count: as given, else estimated from its text (at least 1)."""
    if output.output_tokens is not None:
        return output.output_tokens
    return max(1, len(output.text or output.refusal or "") // _CHARS_PER_TOKEN)


def positive_int(value: Any) -> int | None:
    """`value` when it is a positive integer (a token budget), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
