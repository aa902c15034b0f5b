"""Run many cases at once in threads, each recording to or replaying from its own cassette.

vcrpy patches HTTP clients globally, one cassette at a time, so threads cannot each enter
their own patch. Here one patch is entered for the whole batch, and its router hands every
call to the cassette of the thread that made it. With `--eval-concurrency 16` a live
recording keeps 16 requests in flight in one process, instead of paying for 16 xdist
workers' start-up on a 2-core machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pytest_listingeval.cassettes import NO_FILTERS, CassetteFilters, Cassettes

T = TypeVar("T")
R = TypeVar("R")


class ConcurrentCassettes(Cassettes):
    """One global vcrpy patch for a batch of threads, each with its own cassette file."""

    def __init__(self, record_mode: str, filters: CassetteFilters = NO_FILTERS) -> None:
        super().__init__(record_mode, per_thread=True, filters=filters)


def run_all(items: Sequence[T], work: Callable[[T], R], concurrency: int) -> list[R]:
    """`work` on every item with up to `concurrency` threads, results in input order."""
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="listingeval-case") as pool:
        return list(pool.map(work, items))
