"""What one extraction ends as: an `Extraction` or a typed `ExtractionFailure`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from extractor.schema import Listing

FailureType = Literal["refusal", "incomplete", "invalid_output", "api_error", "invalid_image"]


@dataclass(frozen=True)
class Usage:
    """Token usage reported by the API (zeros when the call never completed)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        """Plain dict for JSON output."""
        return asdict(self)


@dataclass(frozen=True)
class Extraction:
    """A successful extraction: the listing and what it cost."""

    listing: Listing
    model: str
    prompt_id: str
    response_id: str | None
    usage: Usage
    latency_ms: int
    attempts: int = 1

    @property
    def ok(self) -> Literal[True]:
        """Always true; lets callers branch on `outcome.ok`."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, listing included."""
        return {
            "listing": self.listing.model_dump(mode="json"),
            "model": self.model,
            "prompt_id": self.prompt_id,
            "response_id": self.response_id,
            "usage": self.usage.to_dict(),
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class ExtractionFailure:
    """A failed extraction with its type and what a person needs to act on it."""

    type: FailureType
    message: str
    model: str = ""
    prompt_id: str = ""
    status: int | None = None
    code: str | None = None
    request_id: str | None = None
    response_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_ms: int = 0
    attempts: int = 1

    @property
    def ok(self) -> Literal[False]:
        """Always false; lets callers branch on `outcome.ok`."""
        return False

    def summary(self) -> str:
        """One line naming the failure type and, for API errors, the API's code and message."""
        if self.type == "api_error":
            status = f" {self.status}" if self.status is not None else ""
            code = f" {self.code}" if self.code else ""
            request = f" (request id {self.request_id})" if self.request_id else ""
            return f"api_error{status}{code}: {self.message}{request}"
        return f"{self.type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data


Outcome = Extraction | ExtractionFailure
