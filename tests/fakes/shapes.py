"""Bodies and headers shaped like the real OpenAI Responses API (see /work/shared/real-openai/)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

# A listing the fake returns when a test programmed nothing else.
DEFAULT_LISTING: dict[str, Any] = {
    "title": "Wooden acoustic guitar",
    "description": "A six-string acoustic guitar with a natural wood finish.",
    "category": "musical_instruments",
    "color": "brown",
    "brand": None,
    "condition": "used",
}

# Real responses name a dated snapshot even when the request names the alias.
_SNAPSHOT_SUFFIX = "-2025-04-14"


def new_id(prefix: str) -> str:
    """An id in the API's style: prefix, underscore, 50 hex digits."""
    return f"{prefix}_{secrets.token_hex(25)}"


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


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """The API's error envelope: `{"error": {message, type, param, code}}`."""
    envelope = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json.dumps(envelope, indent=2).encode()


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def estimate_input_tokens(request: dict[str, Any]) -> int:
    """A rough, deterministic token count for the request (text / 4, plus a flat 85 per image)."""
    text = json.dumps(request.get("instructions") or "") + json.dumps(request.get("text") or {})
    images = json.dumps(request.get("input") or "").count("input_image")
    return len(text) // 4 + 85 * images


def response_body(
    request: dict[str, Any],
    content: list[dict[str, Any]],
    *,
    status: str = "completed",
    incomplete_reason: str | None = None,
    output_tokens: int | None = None,
) -> dict[str, Any]:
    """A `response` object echoing the request's parameters, with the given message content."""
    text_length = sum(len(part.get("text") or part.get("refusal") or "") for part in content)
    out_tokens = output_tokens if output_tokens is not None else max(1, text_length // 4)
    text_config = dict(request.get("text") or {"format": {"type": "text"}})
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
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": snapshot_model(str(request.get("model") or "")),
        "output": [
            {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed" if status == "completed" else "incomplete",
                "content": content,
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
        "temperature": request.get("temperature", 1.0),
        "text": {**text_config, "format": text_format, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _usage(estimate_input_tokens(request), out_tokens),
        "user": None,
        "metadata": {},
    }


def output_text(text: str) -> dict[str, Any]:
    """An `output_text` content part."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def refusal(text: str) -> dict[str, Any]:
    """A `refusal` content part (sent instead of output_text under json_schema)."""
    return {"type": "refusal", "refusal": text}
