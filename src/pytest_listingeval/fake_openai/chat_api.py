"""Bodies shaped like the real Chat Completions API (`POST /v1/chat/completions`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from pytest_listingeval.fake_openai.recorded import RecordedRequest
from pytest_listingeval.fake_openai.shapes import (
    ApiError,
    EndpointShapes,
    Output,
    chat_id,
    estimate_input_tokens,
    output_tokens,
    positive_int,
    snapshot_model,
)

CONTENT_FILTER = "content_filter"


def completion_body(request: RecordedRequest, output: Output) -> dict[str, Any]:
    """A `chat.completion` object with one choice."""
    filtered = output.cut_short == CONTENT_FILTER
    return {
        "id": chat_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": snapshot_model(request.model),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    # A refusal, like a filtered answer, comes with `content: null`.
                    "content": None if output.refusal is not None or filtered else (output.text or ""),
                    "refusal": output.refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": _finish_reason(output),
            }
        ],
        "usage": _usage(estimate_input_tokens(request), output_tokens(output)),
        "service_tier": "default",
        "system_fingerprint": f"fp_{secrets.token_hex(5)}",
    }


def _finish_reason(output: Output) -> str:
    if output.cut_short is None:
        return "stop"
    return CONTENT_FILTER if output.cut_short == CONTENT_FILTER else "length"


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def token_budget(request: RecordedRequest) -> int | None:
    """The request's `max_completion_tokens`, or the older `max_tokens`."""
    body = request.body or {}
    return positive_int(body.get("max_completion_tokens")) or positive_int(body.get("max_tokens"))


def model_not_found(request: RecordedRequest) -> ApiError:
    """404 with `param: null`, as Chat Completions rejects an unknown model."""
    message = f"The model `{request.model}` does not exist or you do not have access to it."
    return ApiError(404, message, "invalid_request_error", "model_not_found")


SHAPES = EndpointShapes(completion_body, token_budget, model_not_found)
