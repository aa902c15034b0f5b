"""The rows the service writes and reads, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

# `lost`: the reaper's verdict on a row left `pending` past its deadline (the process died).
Status = Literal["pending", "ok", "empty", "error", "refusal", "invalid_image", "lost"]
STATUSES: tuple[Status, ...] = ("ok", "empty", "error", "refusal", "invalid_image", "pending", "lost")
Rating = Literal["up", "down"]


def utcnow() -> datetime:
    """The current time in UTC (stored as UTC in every database)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A datetime read back from the database, made timezone-aware (SQLite drops the zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Upload:
    """An uploaded image: its bytes, their sha256, a sniffed content type and its size in pixels when known."""

    data: bytes
    sha256: str
    content_type: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Pending:
    """What is known before the model is called: who, which variant, which image."""

    id: str
    user_id: str
    variant: str
    model: str
    prompt_id: str
    upload: Upload
    created_at: datetime
    # The rollout that split this request between its control and candidate, if one was running.
    rollout_id: str | None = None


@dataclass(frozen=True)
class Finished:
    """How an extraction ended: status, output or error, latency and tokens."""

    status: Status
    output: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None
    model: str | None = None
    prompt_id: str | None = None
    response_id: str | None = None
    latency_ms: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Row:
    """One stored extraction as the dashboard and the API read it."""

    id: str
    created_at: datetime
    user_id: str
    variant: str
    model: str
    prompt_id: str
    status: str
    error_type: str | None
    error_message: str | None
    output: dict[str, Any] | None
    latency_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    image_sha256: str | None
    rating: str | None
    comment: str | None
    final_listing: dict[str, Any] | None
    corrected_fields: list[str] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the admin API."""
        data = dict(self.__dict__)
        data["created_at"] = as_utc(self.created_at).isoformat()
        return data


@dataclass(frozen=True)
class LogFilter:
    """Filters of the log browser; None means any."""

    status: str | None = None
    variant: str | None = None
    rating: str | None = None
    # Only extractions this online check failed on.
    online_failed: str | None = None
