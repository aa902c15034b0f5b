"""Reproducible performance measurements; writes benchmarks/results.md and results.json.

    python benchmarks/run.py            # full: 1,000 replayed cases, 200 live, promptfoo side by side
    python benchmarks/run.py --quick    # about a minute: 100 replayed, 24 live, no profile, no peer
    python benchmarks/run.py --src /tmp/wt/src   # measure another checkout's harness

Everything generated (projects, cassettes, promptfoo state) goes to a temporary directory.
The machine may be shared: every figure comes with CPU seconds and the load average, and
the ratios (plugin vs bare, ours vs promptfoo) come from runs made back to back.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import footprint  # noqa: E402
import hotspots  # noqa: E402
import live  # noqa: E402
import peer_promptfoo  # noqa: E402
import report  # noqa: E402
import tokens  # noqa: E402
from measure import run  # noqa: E402
from project import Project, demo_cases, make_project  # noqa: E402

PY = sys.executable


def _env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["PYTHONPATH"] = str(src)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _plugin_cmd(workers: int) -> list[str]:
    cmd = [PY, "-m", "pytest", "-m", "eval", "--eval-no-run-record", "-q"]
    return cmd + (["-n", str(workers)] if workers else [])


def _bare_cmd(workers: int) -> list[str]:
    cmd = [PY, "-m", "pytest", "-p", "no:listingeval", "bare/test_bare.py", "-q"]
    return cmd + (["-n", str(workers)] if workers else [])


def replay(project: Project, env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Plugin vs bare, serial and -n 2; the best of `repeat` interleaved runs each."""
    out: dict[str, Any] = {"cases": len(project.case_ids), "repeat": repeat}
    for workers in (0, 2):
        best: dict[str, Any] = {}
        for _ in range(repeat):
            for name, cmd in (("plugin", _plugin_cmd(workers)), ("bare", _bare_cmd(workers))):
                measured = run(cmd, project.root, env)
                if measured.returncode not in (0, 1):
                    raise RuntimeError(f"{name} replay failed ({measured.returncode}):\n{measured.output_tail}")
                if name not in best or measured.wall_s < best[name]["wall_s"]:
                    best[name] = {**measured.as_dict(), "summary": measured.output_tail.splitlines()[-1]}
        label = "serial" if not workers else f"n{workers}"
        best["overhead_wall"] = round(best["plugin"]["wall_s"] / best["bare"]["wall_s"] - 1, 3)
        best["overhead_cpu"] = round(best["plugin"]["cpu_s"] / best["bare"]["cpu_s"] - 1, 3)
        out[label] = best
    return out


def live_runs(root: Path, n_cases: int, workers: list[int], latency_s: float, env: dict[str, str]) -> dict[str, Any]:
    """Record `n_cases` through the fake server at each worker count."""
    project = make_project(root, n_cases, with_cassettes=False)
    answers = _demo_answer_table()
    runs = []
    for mode in ("threads", "xdist"):
        for n in workers:
            runs.append(live.record(project.root, n, n_cases, latency_s, PY, env, answers, mode).as_dict())
    return {"cases": n_cases, "latency_s": latency_s, "runs": runs, "project": str(project.root)}


def _demo_answer_table() -> dict[str, Any]:
    """sha256 of each demo image as sent -> its simulated answer (scripts/demo_answers.yaml)."""
    import yaml

    sys.path.insert(0, str(ROOT / "scripts"))
    from record_demo_cassettes import answers_by_image

    answers = yaml.safe_load((ROOT / "scripts" / "demo_answers.yaml").read_text(encoding="utf-8"))
    return answers_by_image(ROOT / "cases", answers)


def footprint_runs(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """Bytes per cassette for a 512 px and a 3000 px photo: ours vs plain vcrpy; trims projected."""
    from tests.fakes.listing import DEFAULT_LISTING

    from pytest_listingeval.fake_openai import FakeOpenAI

    project = make_project(root, 0, with_cassettes=False)
    photos = {512: footprint.noise_photo(project.root / "images" / "photo_512.jpg", 512, 1)}
    photos[3000] = footprint.noise_photo(project.root / "images" / "photo_3000.jpg", 3000, 2)
    for side, image in photos.items():
        case = project.root / "cases" / "photos" / f"photo_{side}.yaml"
        case.parent.mkdir(parents=True, exist_ok=True)
        case.write_text(f"image: ../../images/{image.name}\nexpected:\n  category: other\n", encoding="utf-8")
    result: dict[str, Any] = {"libyaml": footprint.with_libyaml(), "photos": {}}
    with FakeOpenAI(default_answer=DEFAULT_LISTING) as fake:
        rec_env = footprint.env_with(fake.base_url, Path(env["PYTHONPATH"]))
        cmd = [PY, "-m", "pytest", "-m", "eval", "--record-mode=rewrite", "--eval-no-run-record", "-q"]
        measured = run(cmd, project.root, rec_env)
        for side, image in photos.items():
            ours = project.cassette_dir / "photos" / f"photo_{side}.yaml"
            if not ours.is_file():
                raise RuntimeError(f"recording the {side} px photo failed:\n{measured.output_tail}")
            plain = project.root / f"plain_vcr_{side}.yaml"
            plain_bytes = footprint.plain_vcr_record(image, plain, project.model, project.prompt, project.root, rec_env)
            result["photos"][str(side)] = {
                "photo_bytes": image.stat().st_size,
                "ours_bytes": ours.stat().st_size,
                "plain_vcrpy_bytes": plain_bytes,
                "trims": footprint.projections(ours),
            }
    demo = sorted((ROOT / "cassettes" / "eval").rglob("*.yaml"))
    result["demo_mean_bytes"] = round(sum(p.stat().st_size for p in demo) / max(1, len(demo)))
    if demo:
        result["yaml_parse_ms"] = footprint.yaml_load_timings(demo[0])
    return result


def token_table() -> dict[str, Any]:
    """Image tokens at the default settings vs the original, for the demo set and typical photos."""
    from PIL import Image

    sys.path.insert(0, str(ROOT / "src"))
    from extractor.settings import load_settings

    settings = load_settings(ROOT)
    per_case = []
    for case_id, path, data in demo_cases():
        with Image.open(path.parent / str(data["image"])) as im:
            w, h = im.size
        sw, sh = tokens.fit(w, h, settings.max_side)
        per_case.append(
            {
                "id": case_id,
                "original": [w, h],
                "sent": [sw, sh],
                "tile_original": tokens.tile_tokens(w, h, settings.detail),
                "tile_sent": tokens.tile_tokens(sw, sh, settings.detail),
                "patch_original": tokens.patch_tokens(w, h, settings.model),
                "patch_sent": tokens.patch_tokens(sw, sh, settings.model),
            }
        )
    sizes = {"phone photo": (4032, 3024), "3000 px photo": (3000, 2250), "512 px photo": (512, 384)}
    rows = tokens.table(sizes, [None, 2048, 1024, 768, 512], ["low", "high"])
    return {
        "model": settings.model,
        "detail": settings.detail,
        "max_side": settings.max_side,
        "demo_cases": per_case,
        "table": [row.__dict__ for row in rows],
    }


def peer(
    live_project: Path,
    n_cases: int,
    concurrency: int,
    latency_s: float,
    env: dict[str, str],
    work: Path,
    pf_dir: str | None,
) -> dict[str, Any]:
    """promptfoo live and cached on the same cases, then ours on the same server, back to back."""
    from tests.fakes.listing import DEFAULT_LISTING

    from pytest_listingeval.fake_openai import FakeOpenAI

    main_js = peer_promptfoo.find_promptfoo(pf_dir)
    if main_js is None:
        return {"skipped": "promptfoo not found (see benchmarks/peer_promptfoo.py for the install commands)"}
    sys.path.insert(0, str(ROOT / "src"))
    from extractor.images import prepare_image
    from extractor.prompts import load_prompt
    from extractor.schema import listing_json_schema
    from extractor.settings import load_settings

    settings = load_settings(ROOT)
    demos = demo_cases()
    tests = []
    for index in range(n_cases):
        case_id, path, data = demos[index % len(demos)]
        image = prepare_image((path.parent / str(data["image"])).read_bytes(), max_side=settings.max_side)
        tests.append((f"c{index // len(demos):02d}/{case_id}", image.data_url(), data["expected"]))
    answers = _demo_answer_table()
    state = work / "promptfoo-state"
    peer_promptfoo.fresh_state(state)
    out: dict[str, Any] = {"cases": n_cases, "concurrency": concurrency, "latency_s": latency_s}
    with FakeOpenAI(latency_s=latency_s, default_answer=DEFAULT_LISTING) as fake:
        fake.answer_images(answers)
        config = peer_promptfoo.write_config(
            work / "promptfoo",
            fake.base_url,
            settings.model,
            load_prompt(settings.prompt).render(),
            listing_json_schema(),
            settings.detail,
            settings.max_output_tokens,
            tests,
        )
        for label in ("live", "cached"):
            before = len(fake.requests)
            measured = peer_promptfoo.eval_run(main_js, config, state, concurrency)
            arrivals = sorted(r.received_at for r in fake.requests[before:])
            out[label] = {
                **measured.as_dict(),
                "requests": len(arrivals),
                "startup_s": round(arrivals[0] - measured.started, 3) if arrivals else None,
                "summary": " ".join(
                    line for line in measured.output_tail.splitlines() if "Duration" in line or "Pass Rate" in line
                ),
            }
    out["bytes_on_disk"] = {
        "results_db": peer_promptfoo.dir_bytes(state / "config"),
        "cache": peer_promptfoo.dir_bytes(state / "cache"),
    }
    # ours, back to back on the same machine state: record at the same concurrency, then replay
    ours_live = live.record(live_project, concurrency, n_cases, latency_s, PY, env, answers, "threads")
    replays = {}
    for workers in (0, 2):
        measured = run(_plugin_cmd(workers), live_project, env)
        replays["serial" if not workers else f"n{workers}"] = measured.as_dict()
    cassettes = live_project / "cassettes"
    out["ours"] = {
        "live": ours_live.as_dict(),
        "replay": replays,
        "bytes_on_disk": {"cassettes": peer_promptfoo.dir_bytes(cassettes)},
    }
    return out


def _git_sha() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def main() -> int:
    """Run every measurement and write the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="100 replayed, 24 live at -n 1 and 8, no profile or peer (about a minute)"
    )
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src/ whose harness to measure")
    parser.add_argument("--cases", type=int, help="replayed cases (default 1000, quick 100)")
    parser.add_argument("--live-cases", type=int, help="live cases (default 200, quick 40)")
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=1, help="replay runs per configuration (best kept)")
    parser.add_argument("--promptfoo-dir", help="directory holding node_modules/promptfoo (default /tmp/promptfoo)")
    parser.add_argument("--skip", action="append", default=[], help="replay, live, footprint, tokens, profile, peer")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.md and results.json go")
    args = parser.parse_args()
    n_replay = args.cases or (100 if args.quick else 1000)
    n_live = args.live_cases or (24 if args.quick else 200)
    workers = [1, 8, 16] if not args.quick else [1, 8]
    skip = set(args.skip) | ({"profile", "peer"} if args.quick else set())
    env = _env(args.src.resolve())
    latency_s = args.latency_ms / 1000
    results: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git": _git_sha(),
            "src": str(args.src),
            "quick": args.quick,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": round(os.getloadavg()[0], 2),
        }
    }
    with tempfile.TemporaryDirectory(prefix="listingeval-bench-") as tmp:
        work = Path(tmp)
        if "replay" not in skip:
            print(f"replay: {n_replay} cases, plugin vs bare, serial and -n 2", flush=True)
            project = make_project(work / "replay", n_replay, with_cassettes=True)
            results["replay"] = replay(project, env, args.repeat)
            results["replay"]["cassette_bytes_mean"] = round(sum(project.cassette_bytes()) / n_replay)
        if "profile" not in skip:
            print("profile: serial replay under cProfile", flush=True)
            project = make_project(work / "profiled", min(n_replay, 300), with_cassettes=True)
            stats = hotspots.profile_run(project.root, PY, env, work / "replay.prof")
            results["profile"] = {
                "cases": len(project.case_ids),
                "stages": hotspots.stages(stats),
                "top_own_time": hotspots.top_functions(stats),
            }
        live_root = work / "live"
        if "live" not in skip:
            print(f"live: {n_live} cases at {args.latency_ms:.0f} ms, -n {workers}", flush=True)
            results["live"] = live_runs(live_root, n_live, workers, latency_s, env)
        if "footprint" not in skip:
            print("footprint: 512 px and 3000 px photos", flush=True)
            results["footprint"] = footprint_runs(work / "footprint", env)
        if "tokens" not in skip:
            results["tokens"] = token_table()
        if "peer" not in skip:
            print(f"peer: promptfoo vs ours, {n_live} cases at concurrency 16", flush=True)
            if not live_root.exists():
                make_project(live_root, n_live, with_cassettes=False)
            results["peer"] = peer(live_root, n_live, 16, latency_s, env, work, args.promptfoo_dir)
    results["meta"]["load_avg_at_end"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(report.markdown(results), encoding="utf-8")
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
