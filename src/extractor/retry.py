"""Which API faults are worth another attempt, and how long to wait before it."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import httpx2
import openai
from tenacity import RetryCallState, wait_random_exponential
from tenacity.stop import stop_base

# Codes that come with a retryable status but never succeed on retry.
_PERMANENT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


def is_transport_fault(exc: openai.APIConnectionError) -> bool:
    """True when a connection error came from the network, not from code in the transport."""
    if isinstance(exc, openai.APITimeoutError):
        return True
    cause = exc.__cause__
    return cause is None or isinstance(cause, httpx2.TransportError | OSError)


def is_retryable(exc: BaseException) -> bool:
    """429 (except quota), 5xx, timeouts and dropped connections are retried; other 4xx are not."""
    if isinstance(exc, openai.APIStatusError):
        if exc.code in _PERMANENT_CODES:
            return False
        return exc.status_code == 429 or exc.status_code >= 500
    if isinstance(exc, openai.APIConnectionError):
        return is_transport_fault(exc)
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's requested delay from retry-after-ms or retry-after, if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


class WaitRetryAfterOrBackoff:
    """Honour Retry-After when the server sends it, else jittered exponential backoff."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self._backoff = wait_random_exponential(multiplier=initial_s, max=max_s)
        self._max_s = max_s

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None and (requested := retry_after_seconds(exc)) is not None:
            return min(requested, self._max_s)
        return float(self._backoff(state))


class StopAtDeadline(stop_base):
    """Stop when the next attempt would start at or after `deadline` (a `time.monotonic()` value).

    Tenacity computes the upcoming wait before it asks the stop condition, so neither the
    backoff nor the attempt after it runs past the deadline.
    """

    def __init__(self, deadline: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self._clock = clock

    def __call__(self, state: RetryCallState) -> bool:
        return self._clock() + state.upcoming_sleep >= self.deadline
