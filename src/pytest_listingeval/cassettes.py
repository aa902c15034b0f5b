"""Per-case cassettes: paths, body canonicalisation, header hygiene (docs/contracts.md, section 7)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
from vcr.errors import CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
SECRET_HEADERS = (
    "authorization",
    "api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
)
KEEP_REQUEST_HEADERS = frozenset({"content-type"})
KEEP_RESPONSE_HEADERS = frozenset(
    {"content-type", "x-request-id", "openai-processing-ms", "openai-version", "retry-after", "retry-after-ms"}
)
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<payload>[A-Za-z0-9+/=\s]+)")
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

# Both mean "this cassette has no answer for this request" (vcrpy raises either, by code path).
NoRecordedAnswer = (CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError)

__all__ = ["NoRecordedAnswer", "cassette_path", "use_cassette"]


def cassette_path(root: Path, model: str, prompt_id: str, case_id: str, repeat: int = 0) -> Path:
    """`<root>/eval/<model>/<prompt-id>/<case-id>.yaml` (repeat k > 0: `<case-id>.repeat-<k+1>.yaml`)."""
    model_part = _UNSAFE_PATH_CHARS.sub("_", model)
    suffix = f".repeat-{repeat + 1}.yaml" if repeat else ".yaml"
    return root / "eval" / model_part / prompt_id / f"{case_id}{suffix}"


def _hash_data_url(match: re.Match[str]) -> str:
    payload = re.sub(r"\s+", "", match.group("payload"))
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raw = payload.encode()
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _hash_images(value: Any) -> Any:
    if isinstance(value, str):
        return _DATA_URL.sub(_hash_data_url, value)
    if isinstance(value, list):
        return [_hash_images(item) for item in value]
    if isinstance(value, dict):
        return {key: _hash_images(item) for key, item in value.items()}
    return value


def canonical_body(body: bytes | str | None) -> bytes | str | None:
    """JSON bodies re-serialised with sorted keys and every base64 image replaced by its hash."""
    if not body:
        return body
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return _DATA_URL.sub(_hash_data_url, text)
    return json.dumps(_hash_images(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


def _shrink(data: Any, as_object: bool = False) -> Any:
    """Replace the JSON schema (sent, and echoed back by the API) by its hash: it is in every run record.

    In responses the hash stays an object (`{"sha256": ...}`) so the SDK's models still see a dict.
    """
    if isinstance(data, dict):
        text = data.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict) and "sha256" not in fmt["schema"]:
            digest = _digest(fmt["schema"])
            fmt["schema"] = {"sha256": digest.removeprefix("sha256:")} if as_object else digest
    return data


def stored_body(body: bytes | str | None) -> bytes | str | None:
    """A request body as stored and matched: canonical JSON, images and schema replaced by hashes."""
    canonical = canonical_body(body)
    if not isinstance(canonical, str) or not canonical.startswith("{"):
        return canonical
    data = _shrink(json.loads(canonical))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _scrub_request(request: Any) -> Any:
    request.body = stored_body(request.body)
    for name in list(request.headers):
        if name.lower() not in KEEP_REQUEST_HEADERS:
            del request.headers[name]
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        lowered = name.lower()
        if lowered in SECRET_HEADERS or not (lowered in KEEP_RESPONSE_HEADERS or lowered.startswith("x-ratelimit-")):
            del headers[name]
    body = response.get("body", {})
    raw = body.get("string")
    if raw:
        try:
            data = json.loads(raw)
        except ValueError:
            return response
        # The API echoes the instructions and schema; the request already holds them.
        if (
            isinstance(data, dict)
            and isinstance(data.get("instructions"), str)
            and not data["instructions"].startswith("sha256:")
        ):
            data["instructions"] = _digest(data["instructions"])
        compact = json.dumps(_shrink(data, as_object=True), separators=(",", ":"), ensure_ascii=False)
        body["string"] = compact.encode() if isinstance(raw, bytes) else compact
    return response


def _body_matcher(first: Any, second: Any) -> None:
    if stored_body(first.body) != stored_body(second.body):
        raise AssertionError("request bodies differ")


def make_vcr(record_mode: str) -> vcr.VCR:
    """A VCR with our hygiene and matching; `rewrite` is handled by deleting the file first."""
    recorder = vcr.VCR(
        record_mode="new_episodes" if record_mode == "rewrite" else record_mode,
        filter_headers=list(SECRET_HEADERS),
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
        match_on=("method", "path", "canonical_body"),
    )
    recorder.register_matcher("canonical_body", _body_matcher)
    return recorder


def prepare_path(path: Path, record_mode: str) -> None:
    """`rewrite` starts from nothing; recording needs the folder."""
    if record_mode == "rewrite" and path.exists():
        path.unlink()
    if record_mode != "none":
        path.parent.mkdir(parents=True, exist_ok=True)


def write_empty_if_missing(path: Path, record_mode: str) -> None:
    """vcrpy writes nothing for a task that made no HTTP call; an empty cassette lets it replay."""
    if record_mode != "none" and not path.exists():
        path.write_text("interactions: []\nversion: 1\n", encoding="utf-8")


@contextmanager
def use_cassette(path: Path, record_mode: str) -> Iterator[None]:
    """Run the block with HTTP recorded to or replayed from `path`."""
    prepare_path(path, record_mode)
    with make_vcr(record_mode).use_cassette(str(path)):
        yield
    write_empty_if_missing(path, record_mode)
