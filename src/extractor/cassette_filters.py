"""What the harness's cassettes should know of the OpenAI Responses API, supplied through its hook.

The API echoes the instructions and the JSON schema in every response, and the request
carries the schema too: both are in every run record already, so cassettes keep their sha256
instead (as text in requests, as `{"sha256": ...}` in responses, where the SDK expects an
object). Two response headers are worth keeping for reading a recording later.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pytest_listingeval import CassetteFilters


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


def _shrink_schema(data: Any, as_object: bool) -> Any:
    if isinstance(data, dict):
        text = data.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict) and "sha256" not in fmt["schema"]:
            digest = _digest(fmt["schema"])
            fmt["schema"] = {"sha256": digest.removeprefix("sha256:")} if as_object else digest
    return data


def shrink_request(data: Any) -> Any:
    """A Responses request body with its JSON schema replaced by the schema's hash."""
    return _shrink_schema(data, as_object=False)


def shrink_response(data: Any) -> Any:
    """A Responses response body with the echoed instructions and schema replaced by their hashes."""
    instructions = data.get("instructions") if isinstance(data, dict) else None
    if isinstance(instructions, str) and not instructions.startswith("sha256:"):
        data["instructions"] = _digest(instructions)
    return _shrink_schema(data, as_object=True)


OPENAI_RESPONSES = CassetteFilters(
    keep_response_headers=frozenset({"openai-processing-ms", "openai-version"}),
    request_body=shrink_request,
    response_body=shrink_response,
)
