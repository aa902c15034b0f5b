"""Load benchmark: the service on SQLite, backed by the fake model with a fixed latency, under locust.

    /work/venv/bin/python benchmarks/service_load/run.py [--users 32] [--seconds 30] [--model-ms 500]

Starts the fake OpenAI server (`python -m tests.fakes --latency-ms`), `listingeval serve` on a
fresh SQLite file, and locust headless on 127.0.0.1 only; prints and saves (results.json) the
request rate, the latency the service adds over the model's own (p50, p99) and the service
process's CPU time per extraction (`cpu_ms_per_request`, from /proc on Linux). The CPU figure
barely moves when other work shares the machine, unlike the rate and the latencies, so it is
the one to compare two versions by on a busy machine.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOKEN = "bench-admin-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def _cpu_seconds(pid: int) -> float | None:
    """The user plus system CPU time a process (all its threads) has used so far; None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command's closing parenthesis: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _extractions_counted(url: str) -> int:
    """How many extractions the service has finished, from its own `/metrics`."""
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).text
    lines = (line for line in text.splitlines() if line.startswith("listingeval_requests_total{"))
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in lines))


def _settle(url: str, seconds: float, step: float = 0.25) -> int:
    """Wait until the calls in flight when locust stopped are finished (the count holds still); the count."""
    deadline = time.monotonic() + seconds
    last = _extractions_counted(url)
    while time.monotonic() < deadline:
        time.sleep(step)
        now = _extractions_counted(url)
        if now == last:
            return now
        last = now
    return last


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _stats(prefix: Path, samples: Path) -> dict[str, Any]:
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows["POST /v1/extractions"]
    times = sorted(json.loads(samples.read_text()))
    return {
        "requests": len(times),
        "failures": int(row["Failure Count"]),
        "rps": round(float(row["Requests/s"]), 1),
        "p50_ms": round(_percentile(times, 0.50), 1),
        "p90_ms": round(_percentile(times, 0.90), 1),
        "p99_ms": round(_percentile(times, 0.99), 1),
        "max_ms": round(times[-1], 1),
    }


def _warm_up(url: str, count: int = 20) -> None:
    """First requests pay for imports and connection set-up; keep them out of the figures."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (90, 120, 30)).save(buffer, format="PNG")
    for i in range(count):
        files = {"image": ("w.png", buffer.getvalue(), "image/png")}
        httpx.post(f"{url}/v1/extractions", files=files, headers={"X-User-Id": f"warm{i}"}, timeout=30)


def main() -> int:
    """Run the benchmark once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=32, help="concurrent simulated sellers")
    parser.add_argument("--seconds", type=int, default=30, help="measured run time")
    parser.add_argument("--model-ms", type=float, default=500, help="the fake model's latency")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="source tree of the service to measure (another checkout's src/ compares two versions side by side)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="listingeval-bench-"))
    fake_port, service_port = _free_port(), _free_port()
    python = sys.executable
    env = {
        **os.environ,
        "PYTHONPATH": f"{args.src.resolve()}{os.pathsep}{ROOT}",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "OPENAI_API_KEY": "bench-key-not-real",
        "LISTINGEVAL_ADMIN_TOKEN": TOKEN,
    }
    db = args.db or f"sqlite:///{work / 'bench.db'}"
    # The fake model always comes from this checkout: `--src` names the service measured, and an
    # older tree may not ship the fake server at all.
    fake_env = {**env, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    fake = subprocess.Popen(
        [python, "-m", "tests.fakes", "--port", str(fake_port), "--latency-ms", str(args.model_ms)],
        cwd=ROOT,
        env=fake_env,
        stdout=subprocess.DEVNULL,
    )
    service = subprocess.Popen(
        [python, "-m", "extractor.cli", "serve", "--port", str(service_port), "--db", db, "--log-level", "warning"],
        cwd=work,
        env=env,
    )
    try:
        _wait(f"http://127.0.0.1:{fake_port}/healthz", fake)
        _wait(f"http://127.0.0.1:{service_port}/healthz", service)
        _warm_up(f"http://127.0.0.1:{service_port}")
        prefix = work / "locust"
        samples = work / "samples.json"
        env["BENCH_SAMPLES"] = str(samples)
        locust = [
            python,
            "-m",
            "locust",
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{args.seconds}s",
            "--host",
            f"http://127.0.0.1:{service_port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        service_url = f"http://127.0.0.1:{service_port}"
        # The measured window for the CPU figure: from just before locust starts until every request
        # it sent (those cut off at the stop included) is finished, divided by the extractions the
        # service counted in that window. Feedback posts (one extraction in ten) are in the CPU too.
        counted_before = _extractions_counted(service_url)
        cpu_before = _cpu_seconds(service.pid)
        subprocess.run(locust, cwd=work, env=env, check=False)
        counted = _settle(service_url, seconds=args.model_ms / 1000 + 30)
        cpu_after = _cpu_seconds(service.pid)
        figures = _stats(prefix, samples)
    finally:
        for process in (service, fake):
            process.terminate()
            process.wait(timeout=15)
    served = counted - counted_before
    cpu: dict[str, Any] = {}
    if cpu_before is not None and cpu_after is not None and served > 0:
        cpu = {
            "cpu_s": round(cpu_after - cpu_before, 2),
            "cpu_ms_per_request": round((cpu_after - cpu_before) * 1000 / served, 2),
        }
    result = {
        "users": args.users,
        "seconds": args.seconds,
        "model_ms": args.model_ms,
        "cores": os.cpu_count(),
        "db": "sqlite" if db.startswith("sqlite") else db.split("://", 1)[0],
        **figures,
        "added_p50_ms": round(figures["p50_ms"] - args.model_ms, 1),
        "added_p99_ms": round(figures["p99_ms"] - args.model_ms, 1),
        "counted_in_metrics": counted,
        **cpu,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if figures["failures"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
