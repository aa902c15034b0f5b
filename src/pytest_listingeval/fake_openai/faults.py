"""Faults the fake server can inject into one request: HTTP errors, stalls, drops, bad output."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal[
    "http_error",  # an error status with the API's error envelope
    "model_not_found",  # the unknown-model error, shaped as each endpoint sends it
    "stall",  # wait `delay_s` before answering normally (past the client's timeout)
    "drop",  # close the socket without answering
    "refusal",  # 200 with a refusal instead of output text
    "incomplete",  # 200, cut short (max tokens or content filter), truncated JSON text
    "invalid_json",  # 200 with output text that is not JSON
    "schema_invalid",  # 200 with JSON that breaks the requested schema
    "raw",  # a given status, body and headers, served as is (e.g. a real recording)
]


@dataclass(frozen=True)
class Fault:
    """One injected fault; build it with the factory functions below."""

    kind: FaultKind
    status: int = 200
    type: str | None = None
    code: str | None = None
    param: str | None = None
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b""


def rate_limited(retry_after_s: float | None = 1, retry_after_ms: int | None = None) -> Fault:
    """429 rate_limit_exceeded with `retry-after` and/or `retry-after-ms` headers."""
    headers = {"x-ratelimit-remaining-requests": "0"}
    if retry_after_s is not None:
        headers["retry-after"] = f"{retry_after_s:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Fault(
        "http_error",
        status=429,
        type="requests",
        code="rate_limit_exceeded",
        message="Rate limit reached for requests per min (RPM). Please try again shortly.",
        headers=headers,
    )


def insufficient_quota() -> Fault:
    """429 insufficient_quota: a retryable status that never succeeds on retry."""
    return Fault(
        "http_error",
        status=429,
        type="insufficient_quota",
        code="insufficient_quota",
        message="You exceeded your current quota, please check your plan and billing details.",
    )


def server_error(status: int = 500) -> Fault:
    """500 (or 502/503) with the server_error envelope, code null."""
    messages = {
        500: (
            "The server had an error processing your request. Sorry about that! You can retry your request, "
            "or contact us through our help center at help.openai.com if you keep seeing this error."
        ),
        502: "Bad gateway.",
        503: "The server is overloaded or not ready yet.",
    }
    return Fault(
        "http_error",
        status=status,
        type="server_error",
        code=None,
        message=messages.get(status, "The server had an error processing your request."),
    )


def bad_request(code: str = "model_not_found", message: str | None = None, param: str | None = "model") -> Fault:
    """400 invalid_request_error with the given code, on every endpoint (see `model_not_found`)."""
    return Fault(
        "http_error",
        status=400,
        type="invalid_request_error",
        code=code,
        param=param,
        message=message or f"The request was rejected ({code}).",
    )


def model_not_found() -> Fault:
    """The unknown-model error as the API sends it: 400 on Responses, 404 on Chat Completions."""
    return Fault("model_not_found", type="invalid_request_error", code="model_not_found")


def stall(seconds: float) -> Fault:
    """Hold the request for `seconds` (meant to exceed the client's timeout), then answer."""
    return Fault("stall", delay_s=seconds)


def drop() -> Fault:
    """Close the connection without sending a response."""
    return Fault("drop")


def refusal(text: str = "I'm sorry, but I can't help with that.") -> Fault:
    """A completed answer holding a refusal instead of output text."""
    return Fault("refusal", message=text)


def incomplete(reason: str = "max_output_tokens") -> Fault:
    """An answer cut short: the normal answer's JSON truncated, the output token budget spent.

    `reason` is the Responses API's `incomplete_details.reason`; Chat Completions reports
    `content_filter` as that finish reason and every other reason as `length`.
    """
    return Fault("incomplete", code=reason)


def content_filter() -> Fault:
    """An answer stopped by the content filter (`incomplete("content_filter")`)."""
    return incomplete("content_filter")


def invalid_json(text: str = 'Sure! Here is the JSON: {"name": "Guitar", "kind": ') -> Fault:
    """A completed answer whose output text is not JSON."""
    return Fault("invalid_json", message=text)


def schema_invalid(answer: Mapping[str, Any] | None = None) -> Fault:
    """A completed answer with JSON that does not fit the requested schema.

    Without `answer`, the normal answer is broken against the request's schema: every field
    limited to listed values gets one outside the list; with no such field, the required
    fields are left out.
    """
    body = json.dumps(dict(answer), ensure_ascii=False).encode() if answer is not None else b""
    return Fault("schema_invalid", body=body)


def raw(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Fault:
    """Serve exactly this status, body and headers (content-type defaults to JSON)."""
    return Fault("raw", status=status, body=body, headers=dict(headers or {}))


_BY_NAME: dict[str, Callable[[], Fault]] = {
    "refusal": refusal,
    "incomplete": incomplete,
    "content_filter": content_filter,
    "invalid_json": invalid_json,
    "schema_invalid": schema_invalid,
    "drop": drop,
    "server_error": server_error,
    "rate_limited": rate_limited,
    "insufficient_quota": insufficient_quota,
    "bad_request": bad_request,
    "model_not_found": model_not_found,
}


def names() -> list[str]:
    """The fault names `by_name` knows, sorted."""
    return sorted(_BY_NAME)


def by_name(name: str) -> Fault:
    """A fault with default settings from its name (for answers files)."""
    try:
        return _BY_NAME[name]()
    except KeyError:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(names())}") from None
