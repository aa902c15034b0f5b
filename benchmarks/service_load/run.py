"""Load benchmark: the service on SQLite, backed by the fake model with a fixed latency, under locust.

    /work/venv/bin/python benchmarks/service_load/run.py [--users 32] [--seconds 30] [--model-ms 500]

Starts the fake OpenAI server (`tests/fakes/server.py --latency-ms`), `listingeval serve` on a
fresh SQLite file, and locust headless on 127.0.0.1 only; prints and saves (results.json) the
request rate and the latency the service adds over the model's own (p50, p99).
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
    fake = subprocess.Popen(
        [python, "-m", "tests.fakes.server", "--port", str(fake_port), "--latency-ms", str(args.model_ms)],
        cwd=ROOT,
        env=env,
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
        subprocess.run(locust, cwd=work, env=env, check=False)
        figures = _stats(prefix, samples)
        metrics = httpx.get(
            f"http://127.0.0.1:{service_port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        ).text
    finally:
        for process in (service, fake):
            process.terminate()
            process.wait(timeout=15)
    counted = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("listingeval_requests_total{")
    )
    result = {
        "users": args.users,
        "seconds": args.seconds,
        "model_ms": args.model_ms,
        "cores": os.cpu_count(),
        "db": "sqlite" if db.startswith("sqlite") else db.split("://", 1)[0],
        **figures,
        "added_p50_ms": round(figures["p50_ms"] - args.model_ms, 1),
        "added_p99_ms": round(figures["p99_ms"] - args.model_ms, 1),
        "counted_in_metrics": int(counted),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if figures["failures"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
