"""What a project adds to cassette hygiene for its provider's API: the value of the filters hook.

Kept apart from the cassettes themselves (which need vcrpy) so that a project's filters can
be written and imported where no test runner is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

JsonBody = Callable[[Any], Any]


@dataclass(frozen=True)
class CassetteFilters:
    """What a project adds to cassette hygiene for its provider's API (`pytest_listingeval_cassette_filters`).

    `request_body` rewrites a parsed JSON request body before it is stored AND before two bodies
    are compared, so it must be deterministic and keep what makes two requests different
    (replace a large echoed payload by its hash, never drop it). `response_body` rewrites a
    parsed JSON response body before it is stored; the task must still parse the result.
    Both receive their own copy and return the value to keep.
    """

    keep_response_headers: frozenset[str] = frozenset()
    request_body: JsonBody | None = None
    response_body: JsonBody | None = None

    @classmethod
    def combine(cls, filters: Iterable[CassetteFilters | None]) -> CassetteFilters:
        """One set of filters applying each given one in turn (headers kept by any of them)."""
        given = [f for f in filters if f is not None]
        if len(given) == 1:
            return given[0]
        return cls(
            keep_response_headers=frozenset().union(*(f.keep_response_headers for f in given)),
            request_body=_chain([f.request_body for f in given]),
            response_body=_chain([f.response_body for f in given]),
        )


def _chain(steps: list[JsonBody | None]) -> JsonBody | None:
    present = [step for step in steps if step is not None]
    if not present:
        return None

    def run(data: Any) -> Any:
        for step in present:
            data = step(data)
        return data

    return run


NO_FILTERS = CassetteFilters()
