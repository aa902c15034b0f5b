"""Live recording throughput: N cases against the fake server with a fixed latency, at concurrency 1/8/16.

Concurrency comes either from threads in one process (`--eval-concurrency N`, the way to
record) or from xdist workers (`-n N`), measured side by side.

The fake OpenAI server runs in this process, so the time each request arrived is on the same
clock as the launch of pytest. That splits a run's wall time into

* start-up: launch until the first request reaches the server (interpreter, imports,
  collection, and with xdist the workers' own start-up and collection);
* request phase: first request in until the last answer out (what concurrency can shrink;
  its floor is cases x latency / concurrency);
* tail: last answer out until pytest exits (aggregation, gate, outputs).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from measure import Measured, run

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.listing import DEFAULT_LISTING  # noqa: E402

from pytest_listingeval.fake_openai import FakeOpenAI  # noqa: E402


@dataclass(frozen=True)
class LiveRun:
    """One recording run and how its wall time splits."""

    workers: int
    mode: str
    cases: int
    latency_s: float
    limit_s: float
    requests: int
    startup_s: float
    request_phase_s: float
    tail_s: float
    measured: Measured

    @property
    def phase_vs_limit(self) -> float:
        """Request phase over its floor (1.0 = perfect)."""
        return self.request_phase_s / self.limit_s

    @property
    def wall_vs_limit(self) -> float:
        """Whole run over the floor."""
        return self.measured.wall_s / self.limit_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data = asdict(self)
        data["measured"] = self.measured.as_dict()
        data["phase_vs_limit"] = round(self.phase_vs_limit, 3)
        data["wall_vs_limit"] = round(self.wall_vs_limit, 3)
        return data


def record(
    project: Path,
    workers: int,
    cases: int,
    latency_s: float,
    python: str,
    env: dict[str, str],
    answers: dict[str, Any] | None = None,
    mode: str = "threads",
) -> LiveRun:
    """Record every case of `project` into its (emptied) cassettes dir through a fresh fake server."""
    import shutil

    shutil.rmtree(project / "cassettes", ignore_errors=True)
    with FakeOpenAI(latency_s=latency_s, default_answer=DEFAULT_LISTING) as fake:
        fake.answer_images(answers or {})
        run_env = {**env, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "fake-key-for-benchmarks"}
        cmd = [python, "-m", "pytest", "-m", "eval", "--record-mode=rewrite", "--eval-no-run-record", "-q"]
        cmd += ["--eval-concurrency", str(workers)] if mode == "threads" else ["-n", str(workers)]
        measured = run(cmd, project, run_env)
        arrivals = sorted(r.received_at for r in fake.requests if r.path.startswith("/v1/responses"))
    if not arrivals:
        raise RuntimeError(f"no request reached the fake server:\n{measured.output_tail}")
    first, last_out = arrivals[0], arrivals[-1] + latency_s
    end = measured.started + measured.wall_s
    return LiveRun(
        workers=workers,
        mode=mode,
        cases=cases,
        latency_s=latency_s,
        limit_s=round(cases * latency_s / workers, 3),
        requests=len(arrivals),
        startup_s=round(first - measured.started, 3),
        request_phase_s=round(last_out - first, 3),
        tail_s=round(end - last_out, 3),
        measured=measured,
    )
