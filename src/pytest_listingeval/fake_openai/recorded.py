"""What the fake server keeps of each request: body, prompt texts, images and requested schema."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Endpoint = Literal["responses", "chat.completions"]

ENDPOINT_PATHS: Mapping[str, Endpoint] = {
    "/v1/responses": "responses",
    "/v1/chat/completions": "chat.completions",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: parsed JSON body, lower-cased headers, texts and images.

    `texts` are the prompt's text parts in order (Responses `instructions` first); `images` are
    the decoded bytes of every `data:` image URL (an undecodable one gives `b""`). Both are
    read from Responses `input` and from Chat Completions `messages` alike.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any] | None
    images: tuple[bytes, ...] = ()
    texts: tuple[str, ...] = ()
    received_at: float = field(default_factory=time.monotonic)

    @classmethod
    def parse(
        cls, method: str, path: str, headers: Mapping[str, str], body: Mapping[str, Any] | None
    ) -> RecordedRequest:
        """Record a request, reading its texts and images from the body."""
        texts: list[str] = []
        urls: list[str] = []
        for part in _parts(body or {}):
            if isinstance(text := part.get("text"), str):
                texts.append(text)
            if (url := _image_url(part)) is not None:
                urls.append(url)
        images = tuple(decoded for url in urls if (decoded := _decode_data_url(url)) is not None)
        return cls(method, path, dict(headers), body, images, tuple(texts))

    @property
    def endpoint(self) -> Endpoint | None:
        """`responses` or `chat.completions`, from the path; None for any other path."""
        return ENDPOINT_PATHS.get(self.path.split("?", 1)[0].rstrip("/"))

    @property
    def image_sha256(self) -> tuple[str, ...]:
        """sha256 hex of each decoded image, in request order."""
        return tuple(hashlib.sha256(data).hexdigest() for data in self.images)

    @property
    def text(self) -> str:
        """Every text part, one per line."""
        return "\n".join(self.texts)

    @property
    def model(self) -> str:
        """The requested model ("" when the body names none)."""
        model = (self.body or {}).get("model")
        return model if isinstance(model, str) else ""

    @property
    def json_schema(self) -> Mapping[str, Any] | None:
        """The JSON schema of a `json_schema` output format (Responses or Chat), else None."""
        body = self.body or {}
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else body.get("response_format")
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return None
        holder = fmt.get("json_schema", fmt)
        schema = holder.get("schema") if isinstance(holder, dict) else None
        return schema if isinstance(schema, dict) else None


def _parts(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every content part of a Responses or Chat Completions body; plain strings as text parts."""
    if isinstance(instructions := body.get("instructions"), str):
        yield {"text": instructions}
    turns = body.get("messages", body.get("input"))
    if isinstance(turns, str):
        yield {"text": turns}
        return
    for turn in turns if isinstance(turns, list) else []:
        content = turn.get("content") if isinstance(turn, dict) else None
        if isinstance(content, str):
            yield {"text": content}
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict):
                yield part


def _image_url(part: Mapping[str, Any]) -> str | None:
    """Responses put the URL in `image_url`; Chat Completions in `image_url.url`."""
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    return url if isinstance(url, str) else None


def _decode_data_url(url: str) -> bytes | None:
    """The bytes of a base64 `data:` URL (b"" when undecodable); None for any other URL."""
    if not url.startswith("data:") or "," not in url:
        return None
    try:
        return base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return b""
