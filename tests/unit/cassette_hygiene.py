"""Cassette hygiene for the unit tests: hash images, canonicalise bodies, strip secrets.

The harness keeps its own copy in `src/pytest_listingeval`; this one serves `tests/unit`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from pytest_listingeval.cassettes import safe_uri

# Request headers vcrpy must never store (docs/contracts.md, section 7).
FILTER_HEADERS = ["authorization", "api-key", "openai-organization", "openai-project", "cookie"]
# Response headers stripped before a response is stored.
STRIP_RESPONSE_HEADERS = frozenset({"set-cookie", "openai-organization", "openai-project"})

DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,([A-Za-z0-9+/=]*)")
_LEAKS = {
    "an OpenAI key (sk-...)": re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
    "a bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{4,}"),
    "base64 image data": re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/]{8,}"),
}
_SECRET_HEADERS = frozenset(FILTER_HEADERS) | STRIP_RESPONSE_HEADERS


def _hash_match(match: re.Match[str]) -> str:
    payload = match.group(1)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        data = payload.encode()
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def hash_images(value: Any) -> Any:
    """A copy of a JSON value with every `data:image/...;base64,...` replaced by `sha256:<hex>`."""
    if isinstance(value, str):
        return DATA_URL.sub(_hash_match, value)
    if isinstance(value, list):
        return [hash_images(item) for item in value]
    if isinstance(value, dict):
        return {key: hash_images(item) for key, item in value.items()}
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_body(body: bytes | str | None) -> str:
    """The body as canonical JSON with images hashed; non-JSON bodies come back as text."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return canonical_json(hash_images(json.loads(text)))
    except ValueError:
        return DATA_URL.sub(_hash_match, text)


def scrub_request(request: Any) -> Any:
    """vcrpy `before_record_request`: no credentials in the URI, the canonical, image-hashed body."""
    request.uri = safe_uri(request.uri)
    if request.body:
        request.body = canonical_body(request.body).encode()
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy `before_record_response`: drop cookies and organisation/project headers."""
    headers = response.get("headers") or {}
    response["headers"] = {name: value for name, value in headers.items() if name.lower() not in STRIP_RESPONSE_HEADERS}
    return response


def bodies_match(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the canonical JSON bodies are equal."""
    assert canonical_body(r1.body) == canonical_body(r2.body), "request bodies differ"


def vcr_config() -> dict[str, Any]:
    """The vcrpy options every unit cassette uses (never `record_mode`: that is the CLI's)."""
    return {
        "filter_headers": list(FILTER_HEADERS),
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": ["method", "path", "canonical_body"],
        "decode_compressed_response": True,
    }


def _body_text(body: Any) -> str:
    raw = body.get("string") if isinstance(body, dict) else body
    if isinstance(raw, bytes):
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", "replace")
    return "" if raw is None else str(raw)


def find_leaks(path: Path) -> list[str]:
    """Every secret header, key, token or image payload stored in one cassette file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    problems = [f"{path}: holds {what}" for what, rx in _LEAKS.items() if rx.search(text)]
    data = yaml.load(text, Loader=yaml.Loader)  # vcrpy may write !!binary bodies
    for number, interaction in enumerate((data or {}).get("interactions") or []):
        uri = str((interaction.get("request") or {}).get("uri") or "")
        if uri != safe_uri(uri):
            problems.append(f"{path}: interaction {number} request uri holds credentials")
        for side in ("request", "response"):
            part = interaction.get(side) or {}
            for name in part.get("headers") or {}:
                if str(name).lower() in _SECRET_HEADERS:
                    problems.append(f"{path}: interaction {number} {side} header {name}")
            body = _body_text(part.get("body"))
            problems += [
                f"{path}: interaction {number} {side} body holds {what}"
                for what, rx in _LEAKS.items()
                if rx.search(body)
            ]
    return problems
