"""Run many cases at once in threads, each recording to or replaying from its own cassette.

vcrpy patches HTTP clients globally, one cassette at a time, so threads cannot each enter
`use_cassette`. Here one patch is entered for the whole batch with a router as its
cassette; the router hands every call to the cassette of the thread that made it. With
`--eval-concurrency 16` a live recording keeps 16 requests in flight in one process,
instead of paying for 16 xdist workers' start-up on a 2-core machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from vcr.cassette import Cassette
from vcr.patch import CassettePatcherBuilder

from pytest_listingeval.cassettes import make_vcr, prepare_path, write_empty_if_missing

# Arguments of vcrpy's merged config that configure the context manager, not the cassette.
_NOT_CASSETTE_ARGUMENTS = ("path_transformer", "func_path_generator", "record_on_exception")
T = TypeVar("T")
R = TypeVar("R")


class _ThreadCassettes:
    """Stands in for a cassette in vcrpy's patch: forwards to the calling thread's cassette."""

    def __init__(self, fallback: Cassette) -> None:
        self._local = threading.local()
        self._fallback = fallback

    def bind(self, cassette: Cassette | None) -> None:
        """Make `cassette` the one this thread's HTTP calls use (None: back to the empty fallback)."""
        self._local.cassette = cassette

    def __getattr__(self, name: str) -> Any:
        cassette = getattr(self._local, "cassette", None)
        return getattr(cassette if cassette is not None else self._fallback, name)


class ConcurrentCassettes:
    """One global vcrpy patch for a batch of threads, each with its own cassette file."""

    def __init__(self, record_mode: str) -> None:
        self.record_mode = record_mode
        self._recorder = make_vcr(record_mode)
        self._router = _ThreadCassettes(self._load(None))

    def _load(self, path: Path | None) -> Cassette:
        config = self._recorder.get_merged_config(path=str(path) if path else "<no cassette>")
        for key in _NOT_CASSETTE_ARGUMENTS:
            config.pop(key, None)
        if path is None:
            config["record_mode"] = "none"
            return Cassette(**config)  # never loaded or saved: answers nothing
        return Cassette.load(**config)

    @contextmanager
    def patched(self) -> Iterator[None]:
        """Keep vcrpy's patches in place for the whole batch."""
        with ExitStack() as stack:
            for patcher in CassettePatcherBuilder(self._router).build():
                stack.enter_context(patcher)
            yield

    @contextmanager
    def use(self, path: Path, record_mode: str) -> Iterator[None]:
        """The per-thread equivalent of `cassettes.use_cassette`."""
        prepare_path(path, record_mode)
        cassette = self._load(path)
        self._router.bind(cassette)
        try:
            yield
        finally:
            self._router.bind(None)
            cassette._save()
        write_empty_if_missing(path, record_mode)


def run_all(items: Sequence[T], work: Callable[[T], R], concurrency: int) -> list[R]:
    """`work` on every item with up to `concurrency` threads, results in input order."""
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="listingeval-case") as pool:
        return list(pool.map(work, items))
