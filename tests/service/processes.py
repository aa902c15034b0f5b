"""`listingeval serve` as a subprocess: started on a free port, ready when /healthz answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

START_TIMEOUT_S = 60


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    cwd: Path,
    env: Mapping[str, str],
    *args: str,
    port: int | None = None,
    output: int | IO[str] | None = subprocess.PIPE,
) -> tuple[subprocess.Popen[str], str]:
    """Start `listingeval serve` in `cwd` and wait until it answers; (process, base URL)."""
    port = port or free_port()
    command = [sys.executable, "-m", "extractor.cli", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=output, stderr=output, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None:
                process.kill()
                raise AssertionError(f"serve exited: {process.communicate()[1]}") from None
            assert time.monotonic() < deadline, f"serve did not come up in {START_TIMEOUT_S} s"
            time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> str:
    """Terminate a served process; what it printed."""
    process.terminate()
    out, err = process.communicate(timeout=20)
    return (out or "") + (err or "")
