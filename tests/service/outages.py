"""Database outages for tests: a store whose database can be cut for a few seconds.

On PostgreSQL the store talks through `tests.fakes.tcp_proxy.TcpProxy`, which resets every
connection while cut. On SQLite (a file, no network) every statement raises OperationalError
while cut, as a failing disk or a locked file would.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from extractor.service.storage.db import make_engine
from extractor.service.storage.store import Store
from tests.fakes.tcp_proxy import TcpProxy


class Outage:
    """A store on the test database and a way to cut that database off for a while."""

    def __init__(self, store: Store, proxy: TcpProxy | None = None) -> None:
        self.store = store
        self._proxy = proxy
        self._down_until = 0.0
        self.failed = 0

    def cut(self, seconds: float) -> None:
        """Make the database unreachable from `store` for `seconds`."""
        if self._proxy is not None:
            self._proxy.cut(seconds)
        else:
            self._down_until = time.monotonic() + seconds

    def _fail_while_down(self, *_args: Any) -> None:
        if time.monotonic() < self._down_until:
            self.failed += 1
            raise sqlite3.OperationalError("disk I/O error (simulated outage)")


_DRIVER_EXECUTE_EVENTS = ("do_execute", "do_execute_no_params", "do_executemany")


@contextmanager
def outage_for(store: Store) -> Iterator[Outage]:
    """An `Outage` on the same database as `store` (tables as the `store` fixture left them)."""
    engine = store.engine
    if engine.url.get_backend_name() == "sqlite":
        outage = Outage(store)
        # The dialect's execute events run where the driver would, so SQLAlchemy wraps the error
        # as it wraps a real one (it wraps one raised in before_cursor_execute only from 2.1 on).
        for name in _DRIVER_EXECUTE_EVENTS:
            sa.event.listen(engine, name, outage._fail_while_down)
        try:
            yield outage
        finally:
            for name in _DRIVER_EXECUTE_EVENTS:
                sa.event.remove(engine, name, outage._fail_while_down)
        return
    with engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    url = engine.url
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = make_engine(
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            connect_args={"options": f"-csearch_path={schema}"},
        )
        try:
            yield Outage(Store(proxied), proxy)
        finally:
            proxied.dispose()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn on a free port in a thread (lifespan included); its base URL."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
