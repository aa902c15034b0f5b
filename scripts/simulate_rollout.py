"""Simulate guarded rollouts through the shipped `decide`: false halts under continuous monitoring, time to halt."""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing import Pool
from pathlib import Path
from statistics import NormalDist
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from extractor.service.rollout.decision import decide  # noqa: E402
from extractor.service.rollout.snapshot import ArmStats, AssignmentPeriod, RolloutPolicy, Snapshot  # noqa: E402
from pytest_listingeval.stats import wilson_interval  # noqa: E402

NULL_ERROR_RATES = (0.01, 0.05, 0.20)
LOOK_EVERY = (1, 10, 100)
RAMP = (0.05, 0.25, 0.50)  # the candidate's share in each third of a ramped run
HALT_BASE_RATE = 0.02
HALT_INCREASES = (0.05, 0.20)
HALT_SHARES = (0.50, 0.05)

_Task = TypeVar("_Task")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Traffic:
    """One arm's law per request: each request independent, an error or else maybe empty or a refusal."""

    error_rate: float
    empty_rate: float = 0.02
    refusal_rate: float = 0.01
    latency_median_ms: float = 1800.0
    latency_sigma: float = 0.5


class Arm:
    """One arm's running totals, latencies kept sorted as they arrive so each look copies instead of sorting."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.requests = self.errors = self.empties = self.refusals = 0
        self.latencies: list[float] = []

    def serve(self, rng: random.Random) -> None:
        """Draw one request's outcome and latency."""
        law = self.traffic
        self.requests += 1
        outcome = rng.random()
        if outcome < law.error_rate:
            self.errors += 1
        else:
            rest = (outcome - law.error_rate) / (1.0 - law.error_rate)
            if rest < law.empty_rate:
                self.empties += 1
            elif rest < law.empty_rate + law.refusal_rate:
                self.refusals += 1
        bisect.insort(self.latencies, rng.lognormvariate(math.log(law.latency_median_ms), law.latency_sigma))

    def stats(self) -> ArmStats:
        """The arm as the decision reads it (no costs: the simulated models have no price)."""
        return ArmStats(
            requests=self.requests,
            errors=self.errors,
            empties=self.empties,
            refusals=self.refusals,
            latencies_ms=tuple(self.latencies),
        )


@dataclass(frozen=True)
class NullTask:
    """A candidate identical to control, watched after every request for `requests` requests."""

    error_rate: float
    shares: tuple[float, ...]
    requests: int
    alpha: float
    seed: str


@dataclass(frozen=True)
class NullOutcome:
    """The requests after which `decide` halted, the naive z-test fired, and the sample-ratio check flagged."""

    halts: tuple[int, ...]
    naive: tuple[int, ...]
    srm: bool


@dataclass(frozen=True)
class HaltTask:
    """A candidate with more errors than control, watched after every candidate request until halted."""

    increase: float
    share: float
    budget: int
    alpha: float
    seed: str


@dataclass(frozen=True)
class HaltOutcome:
    """Requests in all and to the candidate when `decide` halted (None when it never did), and why."""

    requests: int | None
    candidate_requests: int | None
    breaches: tuple[str, ...]


@dataclass(frozen=True)
class NullRow:
    """False halts over runs for one scenario and one look frequency."""

    scenario: str
    look_every: int
    runs: int
    halts: int
    halt_interval: tuple[float, float]
    naive: int
    naive_interval: tuple[float, float]
    srm_flagged: int


@dataclass(frozen=True)
class HaltRow:
    """Requests needed to halt a worse candidate, over runs."""

    share: float
    control_rate: float
    candidate_rate: float
    runs: int
    halted: int
    on_error_rate: int
    median_requests: float
    p90_requests: float
    median_candidate_requests: float
    p90_candidate_requests: float


def _snapshot(control: Arm, candidate: Arm, share: float, periods: tuple[AssignmentPeriod, ...]) -> Snapshot:
    # Each request is a new user here, so the sample-ratio check sees requests.
    return Snapshot(
        control=control.stats(),
        candidate=candidate.stats(),
        step_percent=100.0 * share,
        is_last_step=False,
        control_requests_at_step=control.requests,
        candidate_requests_at_step=candidate.requests,
        hours_at_step=0.0,
        periods=periods,
    )


def _naive_breach(control: Arm, candidate: Arm, z: float, min_n: int) -> bool:
    """A fixed-sample one-sided two-proportion z-test that the candidate's error rate is higher."""
    if min(control.requests, candidate.requests) < min_n:
        return False
    p_c, p_t = control.errors / control.requests, candidate.errors / candidate.requests
    variance = p_c * (1.0 - p_c) / control.requests + p_t * (1.0 - p_t) / candidate.requests
    return variance > 0.0 and p_t - p_c - z * math.sqrt(variance) > 0.0


def run_null(task: NullTask) -> NullOutcome:
    """One run with no true difference: look after every request and record what fired."""
    rng = random.Random(task.seed)
    policy = RolloutPolicy(alpha=task.alpha)
    z = NormalDist().inv_cdf(1.0 - task.alpha)
    law = Traffic(error_rate=task.error_rate)
    control, candidate = Arm(law), Arm(law)
    halts: list[int] = []
    naive: list[int] = []
    srm = False
    done: list[AssignmentPeriod] = []
    per_step = math.ceil(task.requests / len(task.shares))
    for index, share in enumerate(task.shares):
        start_c, start_t = control.requests, candidate.requests
        for _ in range(min(per_step, task.requests - index * per_step)):
            (candidate if rng.random() < share else control).serve(rng)
            current = AssignmentPeriod(share, control.requests - start_c, candidate.requests - start_t)
            decision = decide(_snapshot(control, candidate, share, (*done, current)), policy)
            seen = control.requests + candidate.requests
            if decision.action == "halt":
                halts.append(seen)
            if _naive_breach(control, candidate, z, policy.min_halt_requests):
                naive.append(seen)
            srm = srm or (decision.sample_ratio is not None and decision.sample_ratio.mismatch)
        done.append(AssignmentPeriod(share, control.requests - start_c, candidate.requests - start_t))
    return NullOutcome(halts=tuple(halts), naive=tuple(naive), srm=srm)


def run_halt(task: HaltTask) -> HaltOutcome:
    """One run with a worse candidate: look after every candidate request until `decide` halts."""
    rng = random.Random(task.seed)
    policy = RolloutPolicy(alpha=task.alpha)
    control = Arm(Traffic(error_rate=HALT_BASE_RATE))
    candidate = Arm(Traffic(error_rate=HALT_BASE_RATE + task.increase))
    while control.requests + candidate.requests < task.budget:
        if rng.random() >= task.share:
            control.serve(rng)
            continue
        candidate.serve(rng)
        period = AssignmentPeriod(task.share, control.requests, candidate.requests)
        decision = decide(_snapshot(control, candidate, task.share, (period,)), policy)
        if decision.action == "halt":
            return HaltOutcome(control.requests + candidate.requests, candidate.requests, decision.breaches)
    return HaltOutcome(None, None, ())


def _map(function: Callable[[_Task], _Result], tasks: Sequence[_Task], workers: int) -> list[_Result]:
    """Results in task order, whatever the number of worker processes (each task carries its own seed)."""
    if workers <= 1:
        return [function(task) for task in tasks]
    with Pool(workers) as pool:
        return pool.map(function, tasks, chunksize=max(1, len(tasks) // (8 * workers)))


def _scenario_name(error_rate: float, shares: tuple[float, ...]) -> str:
    split = " → ".join(f"{100 * s:g}%" for s in shares)
    return f"{100 * error_rate:g}% errors, candidate share {split}"


def null_rows(runs: int, requests: int, alpha: float, seed: int, workers: int) -> list[NullRow]:
    """False halts for each no-difference scenario, at each look frequency, from one look-every-request pass."""
    scenarios = [(rate, (0.5,)) for rate in NULL_ERROR_RATES] + [(0.05, RAMP)]
    tasks = [
        NullTask(rate, shares, requests, alpha, f"{seed}:null:{rate}:{shares}:{run}")
        for rate, shares in scenarios
        for run in range(runs)
    ]
    outcomes = _map(run_null, tasks, workers)
    rows = []
    for index, (rate, shares) in enumerate(scenarios):
        chunk = outcomes[index * runs : (index + 1) * runs]
        srm = sum(o.srm for o in chunk)
        for every in LOOK_EVERY:
            # Looking every k requests sees exactly the looks at multiples of k.
            halts = sum(any(t % every == 0 for t in o.halts) for o in chunk)
            naive = sum(any(t % every == 0 for t in o.naive) for o in chunk)
            rows.append(
                NullRow(
                    scenario=_scenario_name(rate, shares),
                    look_every=every,
                    runs=runs,
                    halts=halts,
                    halt_interval=wilson_interval(halts, runs),
                    naive=naive,
                    naive_interval=wilson_interval(naive, runs),
                    srm_flagged=srm,
                )
            )
    return rows


def _quantile(values: Iterable[float], q: float) -> float:
    """Nearest-rank quantile; inf stands for a run that never halted within the budget."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def halt_rows(runs: int, budget: int, alpha: float, seed: int, workers: int) -> list[HaltRow]:
    """Requests to halt a candidate with more errors, for each increase and candidate share."""
    scenarios = [(share, increase) for share in HALT_SHARES for increase in HALT_INCREASES]
    tasks = [
        HaltTask(increase, share, budget, alpha, f"{seed}:halt:{share}:{increase}:{run}")
        for share, increase in scenarios
        for run in range(runs)
    ]
    outcomes = _map(run_halt, tasks, workers)
    rows = []
    for index, (share, increase) in enumerate(scenarios):
        chunk = outcomes[index * runs : (index + 1) * runs]
        total = [math.inf if o.requests is None else float(o.requests) for o in chunk]
        candidate = [math.inf if o.candidate_requests is None else float(o.candidate_requests) for o in chunk]
        rows.append(
            HaltRow(
                share=share,
                control_rate=HALT_BASE_RATE,
                candidate_rate=HALT_BASE_RATE + increase,
                runs=runs,
                halted=sum(o.requests is not None for o in chunk),
                on_error_rate=sum("error_rate" in o.breaches for o in chunk),
                median_requests=_quantile(total, 0.5),
                p90_requests=_quantile(total, 0.9),
                median_candidate_requests=_quantile(candidate, 0.5),
                p90_candidate_requests=_quantile(candidate, 0.9),
            )
        )
    return rows


def _pct(value: float) -> str:
    return f"{100.0 * value:.1f}%"


def _count(value: float, budget: int) -> str:
    return f"> {budget}" if math.isinf(value) else f"{value:.0f}"


def render(
    null: Sequence[NullRow], halts: Sequence[HaltRow], command: str, requests: int, budget: int, alpha: float
) -> str:
    """The markdown report: both tables and how they were made."""
    lines = [
        f"Generated by `{command}`. Each request is independent: it goes to the candidate with "
        "the step's share, fails with the arm's error rate, else comes back empty (2%) or refused "
        "(1%), with a lognormal latency (median 1800 ms, sigma 0.5); each request is a new user. "
        f"`decide` runs with `RolloutPolicy(alpha={alpha:g})` and its defaults (a halt needs 30 "
        "requests per arm).",
        "",
        f"**False halts** of a candidate identical to control, over {requests} requests looked at "
        "every k requests (95% Wilson intervals). The naive test is a fixed-sample one-sided "
        f"two-proportion z-test that the candidate has more errors, at alpha {alpha:g} (so exactly "
        "alpha if looked at once), looked at just as often.",
        "",
        "| scenario | look every | false halts, `decide` | naive z-test | sample-ratio flag (any look) |",
        "|---|---|---|---|---|",
    ]
    for row in null:
        lines.append(
            f"| {row.scenario} | {row.look_every} | {row.halts}/{row.runs} = {_pct(row.halts / row.runs)} "
            f"({_pct(row.halt_interval[0])} to {_pct(row.halt_interval[1])}) "
            f"| {row.naive}/{row.runs} = {_pct(row.naive / row.runs)} "
            f"({_pct(row.naive_interval[0])} to {_pct(row.naive_interval[1])}) "
            f"| {row.srm_flagged}/{row.runs} |"
        )
    lines += [
        "",
        f"**Requests to halt** a candidate with more errors, looked at after every candidate request "
        f"(budget {budget} requests per run; nearest-rank median and 90th percentile over runs).",
        "",
        "| candidate share | error rate, control → candidate | halted | on error_rate "
        "| requests to halt, median | p90 | candidate requests, median | p90 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for halt in halts:
        lines.append(
            f"| {100 * halt.share:g}% | {_pct(halt.control_rate)} → {_pct(halt.candidate_rate)} "
            f"| {halt.halted}/{halt.runs} | {halt.on_error_rate}/{halt.runs} "
            f"| {_count(halt.median_requests, budget)} | {_count(halt.p90_requests, budget)} "
            f"| {_count(halt.median_candidate_requests, budget)} | {_count(halt.p90_candidate_requests, budget)} |"
        )
    return "\n".join(lines) + "\n"


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: print the markdown tables, optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200, help="simulated rollouts per scenario")
    parser.add_argument("--requests", type=int, default=1000, help="requests per no-difference run")
    parser.add_argument("--budget", type=int, default=20000, help="requests before a halt run gives up")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    command = (
        f"python scripts/simulate_rollout.py --seed {args.seed} --runs {args.runs} "
        f"--requests {args.requests} --budget {args.budget} --alpha {args.alpha:g}"
    )
    null = null_rows(args.runs, args.requests, args.alpha, args.seed, args.workers)
    halts = halt_rows(args.runs, args.budget, args.alpha, args.seed, args.workers)
    print(render(null, halts, command, args.requests, args.budget, args.alpha), end="")
    seconds = time.monotonic() - started
    print(f"simulated in {seconds:.1f}s with {args.workers} worker(s)", file=sys.stderr)
    if args.json is not None:
        document = {
            "command": command,
            "seconds": round(seconds, 1),
            "false_halts": [asdict(row) for row in null],
            "time_to_halt": [
                {
                    **asdict(row),
                    **{
                        key: _finite(getattr(row, key))
                        for key in (
                            "median_requests",
                            "p90_requests",
                            "median_candidate_requests",
                            "p90_candidate_requests",
                        )
                    },
                }
                for row in halts
            ],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
