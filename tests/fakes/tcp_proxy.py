"""A TCP proxy that forwards to a server (e.g. PostgreSQL) and can cut it off for a while.

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
        proxy.cut(3.0)  # reset every open connection; refuse new ones for 3 s

While cut, connections are accepted and reset at once (as a restarting server does), so
clients fail fast instead of hanging.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time


class TcpProxy:
    """Forwards each accepted connection to `target`; `cut` drops all of them for a window."""

    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((host, 0))
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down_until = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.accepted = 0
        self.refused = 0

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return int(self._listener.getsockname()[1])

    def start(self) -> TcpProxy:
        """Accept connections in a background thread."""
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="tcp-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._reset_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def cut(self, seconds: float) -> None:
        """Reset every open connection now and every new one for `seconds`."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
        self._reset_all()

    @property
    def down(self) -> bool:
        """Whether the proxy is refusing connections now."""
        with self._lock:
            return time.monotonic() < self._down_until

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            # Shut down rather than close: that wakes the pump thread, which closes the socket.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.down:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            self.accepted += 1
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select(list(pair), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return  # reset by `cut`, or closed by either side
        finally:
            with self._lock:
                self._open.difference_update((client, upstream))
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close sends RST, as a server killed mid-connection would.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
