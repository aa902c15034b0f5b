"""Run a command and measure it: wall time, CPU time, peak RSS (largest process and whole tree).

No third-party dependency: CPU time and the largest process's peak RSS come from `wait4`'s
rusage (which includes the descendants the command waited for, e.g. xdist workers); the
tree's peak RSS (the sum over the process and its descendants, what the machine must
hold at once) comes from polling `/proc` every 50 ms.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measured:
    """What one command cost."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float  # largest single process (ru_maxrss)
    tree_rss_mb: float  # largest sum over the process tree seen while polling
    returncode: int
    started: float  # time.monotonic() at launch
    load_avg: float  # 1-minute load average at the end (the machine is shared)
    output_tail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (without the output)."""
        data = asdict(self)
        data.pop("output_tail")
        return data


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with Path(f"/proc/{entry.name}/stat").open("rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        with Path(f"/proc/{pid}/statm").open("rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants now."""
    tree = _children()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_bytes(current)
        todo.extend(tree.get(current, ()))
    return total


def run(
    cmd: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 1800,
    poll_rss: bool = True,
) -> Measured:
    """Run `cmd`, capture its output, and measure it."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, tree_rss(proc.pid))

    poller = threading.Thread(target=poll, daemon=True)
    if poll_rss:
        poller.start()
    chunks: list[bytes] = []

    def drain() -> None:
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(65536), b""):  # type: ignore[union-attr]
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = started + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    wall = time.monotonic() - started
    done.set()
    reader.join(timeout=5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = b"".join(chunks).decode("utf-8", "replace")
    return Measured(
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        max_rss_mb=round(usage.ru_maxrss / 1024, 1),
        tree_rss_mb=round(peak / 2**20, 1),
        returncode=proc.returncode,
        started=started,
        load_avg=round(os.getloadavg()[0], 2),
        output_tail="\n".join(text.strip().splitlines()[-15:]),
    )
