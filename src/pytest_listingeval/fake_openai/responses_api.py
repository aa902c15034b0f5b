"""Bodies shaped like the real Responses API (`POST /v1/responses`)."""

from __future__ import annotations

import time
from typing import Any

from pytest_listingeval.fake_openai.recorded import RecordedRequest
from pytest_listingeval.fake_openai.shapes import (
    ApiError,
    EndpointShapes,
    Output,
    estimate_input_tokens,
    new_id,
    output_tokens,
    positive_int,
    snapshot_model,
)


def response_body(request: RecordedRequest, output: Output) -> dict[str, Any]:
    """A `response` object echoing the request's parameters, with one assistant message."""
    body = request.body or {}
    status = "incomplete" if output.cut_short else "completed"
    text_config = dict(body.get("text") or {"format": {"type": "text"}})
    text_format = dict(text_config.get("format") or {"type": "text"})
    if text_format.get("type") == "json_schema":
        text_format.setdefault("description", None)
        text_format.setdefault("strict", True)
    now = int(time.time())
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": now,
        "status": status,
        "background": False,
        "billing": {"payer": "developer"},
        "completed_at": now if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": output.cut_short} if output.cut_short else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": snapshot_model(request.model),
        "output": [
            {
                "id": new_id("msg"),
                "type": "message",
                "status": status,
                "content": _content(output),
                "role": "assistant",
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": {**text_config, "format": text_format, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _usage(estimate_input_tokens(request), output_tokens(output)),
        "user": None,
        "metadata": {},
    }


def _content(output: Output) -> list[dict[str, Any]]:
    """A refusal part instead of output text under json_schema, as the API sends it."""
    if output.refusal is not None:
        return [{"type": "refusal", "refusal": output.refusal}]
    return [{"type": "output_text", "annotations": [], "logprobs": [], "text": output.text or ""}]


def _usage(input_tokens: int, out_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": out_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + out_tokens,
    }


def token_budget(request: RecordedRequest) -> int | None:
    """The request's `max_output_tokens`."""
    return positive_int((request.body or {}).get("max_output_tokens"))


def model_not_found(request: RecordedRequest) -> ApiError:
    """400 with `param: "model"`, as the Responses API rejects an unknown model."""
    message = f"The requested model '{request.model}' does not exist."
    return ApiError(400, message, "invalid_request_error", "model_not_found", "model")


SHAPES = EndpointShapes(response_body, token_budget, model_not_found)
