"""Load real OpenAI exchanges recorded by other projects (tests/data/real-openai/, see its SOURCES.md)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_listingeval.fake_openai import faults
from pytest_listingeval.fake_openai.faults import Fault

REAL_DIR = Path(__file__).resolve().parents[1] / "data" / "real-openai"
# Framing headers describe the recorded transfer, not the body the fake server sends.
_FRAMING = frozenset({"content-encoding", "transfer-encoding", "content-length", "connection"})


@dataclass(frozen=True)
class Recorded:
    """One recorded response: status, headers (first value each) and the decoded body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body parsed as JSON."""
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data

    def with_json(self, data: dict[str, Any]) -> Recorded:
        """The same response with another JSON body."""
        return Recorded(self.status, self.headers, json.dumps(data).encode())

    def as_fault(self) -> Fault:
        """Serve this response as is from the fake server."""
        return faults.raw(self.status, self.body, self.headers)


def _path(name: str) -> Path:
    path = REAL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"real OpenAI recording {path} is missing from the repository")
    return path


def _decode(body: Any) -> bytes:
    raw = body.get("string") if isinstance(body, dict) else body
    data = raw.encode() if isinstance(raw, str) else bytes(raw or b"")
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _first(values: Any) -> str:
    return str(values[0] if isinstance(values, list) else values)


def _interaction(name: str, index: int) -> dict[str, Any]:
    data = yaml.load(_path(name).read_text(encoding="utf-8"), Loader=yaml.Loader)
    interactions = data.get("interactions") or data.get("http_interactions")
    interaction = interactions[index]
    assert isinstance(interaction, dict)
    return interaction


def load(name: str, index: int = 0) -> Recorded:
    """Interaction `index` of a vcrpy (Python) or VCR (Ruby) cassette."""
    response = _interaction(name, index)["response"]
    headers = {
        str(k).lower(): _first(v) for k, v in (response.get("headers") or {}).items() if str(k).lower() not in _FRAMING
    }
    return Recorded(int(response["status"]["code"]), headers, _decode(response["body"]))


def load_body(name: str, status: int) -> Recorded:
    """A body-only recording (no status or headers stored): serve it with `status`."""
    return Recorded(status, {"content-type": "application/json"}, _path(name).read_bytes())


def request_json(name: str, index: int = 0) -> dict[str, Any]:
    """The JSON body of the request of interaction `index` (what the client sent)."""
    body = json.loads(_decode(_interaction(name, index)["request"]["body"]))
    assert isinstance(body, dict)
    return body
