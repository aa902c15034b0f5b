"""benchmarks/results.md from the results dict: the figures, the goals, and the ratios."""
# ruff: noqa: E501  (markdown table rows read better on one line)

from __future__ import annotations

from typing import Any


def _pct(x: float) -> str:
    return f"{x * 100:+.0f} %"


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def _replay(r: dict[str, Any], lines: list[str]) -> None:
    n = r["cases"]
    lines += [
        f"## 1. Replay throughput ({n} cases, `pytest -m eval --eval-no-run-record`)",
        "",
        "Bare = the same task inside the same cassettes, parametrised, `-p no:listingeval`.",
        "CPU = user + sys seconds of pytest and its workers (robust on a shared machine).",
        "",
        "| run | plugin wall | bare wall | overhead (wall) | plugin CPU | bare CPU | overhead (CPU) | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in ("serial", "n2"):
        row = r.get(label)
        if not row:
            continue
        p, b = row["plugin"], row["bare"]
        name = "serial" if label == "serial" else "-n 2"
        lines.append(
            f"| {name} | {p['wall_s']:.1f} s | {b['wall_s']:.1f} s | {_pct(row['overhead_wall'])} | "
            f"{p['cpu_s']:.1f} s | {b['cpu_s']:.1f} s | {_pct(row['overhead_cpu'])} | {p['load_avg']} |"
        )
    serial = r.get("serial")
    if serial:
        wall = serial["plugin"]["wall_s"]
        cpu = serial["plugin"]["cpu_s"]
        scaled = 1000 / n
        lines += [
            "",
            f"- Goal: overhead at most 10 %: {_ok(serial['overhead_cpu'] <= 0.10)} (CPU {_pct(serial['overhead_cpu'])}, "
            f"wall {_pct(serial['overhead_wall'])}).",
            f"- Goal: 1,000 cases under 15 s serial: {_ok(wall * scaled < 15)} ({wall:.1f} s wall for {n}; "
            f"{cpu:.1f} s of CPU, which is the floor on an idle machine).",
            f"- Peak RSS (serial): {serial['plugin']['max_rss_mb']:.0f} MB plugin, {serial['bare']['max_rss_mb']:.0f} MB bare.",
        ]
    lines.append("")


def _profile(p: dict[str, Any], lines: list[str]) -> None:
    lines += [
        f"## Profile (serial replay of {p['cases']} cases under cProfile; inclusive, stages nest)",
        "",
        "| stage | seconds | share | calls |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {s['stage'].strip()} {'(nested)' if s['stage'].startswith('  ') else ''} | {s['seconds']:.2f} | {s['share'] * 100:.1f} % | {s['calls']} |"
        for s in p["stages"]
    ]
    lines += ["", "Top own time:", "", "| function | seconds | share |", "|---|---|---|"]
    lines += [f"| `{t['function']}` | {t['own_seconds']:.2f} | {t['share'] * 100:.1f} % |" for t in p["top_own_time"]]
    lines.append("")


def _live(lv: dict[str, Any], lines: list[str]) -> None:
    lines += [
        f"## 2. Live recording ({lv['cases']} cases, fake server at {lv['latency_s'] * 1000:.0f} ms, `--record-mode=rewrite`)",
        "",
        "Limit = cases x latency / concurrency. Concurrency comes from threads in one process",
        "(`--eval-concurrency N`) or from xdist workers (`-n N`). Start-up = launch to first request",
        "(with xdist: the workers' start-up and collection); request phase = first request in to last",
        "answer out.",
        "",
        "| mode | N | limit | wall | wall / limit | start-up | request phase | phase / limit | tail | CPU | tree RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in lv["runs"]:
        m = run["measured"]
        lines.append(
            f"| {run.get('mode', 'xdist')} | {run['workers']} | {run['limit_s']:.2f} s | {m['wall_s']:.1f} s | {run['wall_vs_limit']:.2f}x | "
            f"{run['startup_s']:.1f} s | {run['request_phase_s']:.1f} s | {run['phase_vs_limit']:.2f}x | "
            f"{run['tail_s']:.1f} s | {m['cpu_s']:.1f} s | {m['tree_rss_mb']:.0f} MB |"
        )
    at16 = [r for r in lv["runs"] if r["workers"] == 16 and r.get("mode", "xdist") == "threads"]
    if at16:
        r = at16[0]
        lines += [
            "",
            f"- Goal: within 15 % of the limit at 16 (threads): request phase {_ok(r['phase_vs_limit'] <= 1.15)} "
            f"({r['phase_vs_limit']:.2f}x), whole run {_ok(r['wall_vs_limit'] <= 1.15)} ({r['wall_vs_limit']:.2f}x).",
        ]
    lines.append("")


def _footprint(fp: dict[str, Any], lines: list[str]) -> None:
    lines += [
        "## 3. Cassette footprint (one eval cassette per photo)",
        "",
        f"PyYAML built with libyaml: {fp['libyaml']} (vcrpy then uses CSafeLoader/CDumper). "
        f"Mean demo cassette today: {_kb(fp['demo_mean_bytes'])}.",
        "",
        "| photo | photo file | ours | plain vcrpy (default config) | ours / plain |",
        "|---|---|---|---|---|",
    ]
    for side, row in fp["photos"].items():
        lines.append(
            f"| {side} px | {_kb(row['photo_bytes'])} | {_kb(row['ours_bytes'])} | {_kb(row['plain_vcrpy_bytes'])} | "
            f"{row['ours_bytes'] / row['plain_vcrpy_bytes']:.3f} |"
        )
    sizes = [row["ours_bytes"] for row in fp["photos"].values()]
    lines += [
        "",
        f"- Goal: at most 10 KB and independent of image size: size-independent {_ok(max(sizes) - min(sizes) < 64)}, "
        f"at most 10 KB {_ok(max(sizes) <= 10 * 1024)} ({_kb(max(sizes))}).",
        "",
        "Projected size of our cassette under each proposed trim (cumulative, re-serialised by vcrpy):",
        "",
        "| trim | bytes |",
        "|---|---|",
    ]
    first = next(iter(fp["photos"].values()))
    lines += [f"| {name} | {_kb(size)} |" for name, size in first["trims"].items()]
    if "yaml_parse_ms" in fp:
        lines += ["", "Parsing one cassette:", "", "| loader | ms |", "|---|---|"]
        lines += [f"| {name} | {ms:.3f} |" for name, ms in fp["yaml_parse_ms"].items()]
    lines.append("")


def _tokens(t: dict[str, Any], lines: list[str]) -> None:
    demo = t["demo_cases"]
    tile_o = sum(c["tile_original"] for c in demo) / len(demo)
    tile_s = sum(c["tile_sent"] for c in demo) / len(demo)
    patch_o = sum(c["patch_original"] for c in demo) / len(demo)
    patch_s = sum(c["patch_sent"] for c in demo) / len(demo)
    lines += [
        f"## 4. Image input tokens (published formulas; defaults: model {t['model']}, detail {t['detail']}, max_side {t['max_side']})",
        "",
        "Tile formula (GPT-4o / GPT-4.1 class): low = 85; high/auto = 85 + 170 per 512 px tile after fitting",
        "in 2048 px and scaling the short side down to 768 px. Patch formula (gpt-4.1-mini, the default model):",
        "32 px patches, at most 1536, x 1.62. Both from OpenAI's vision guide; the fake server's token counts",
        "are not real. `auto` is counted as `high` (the worst case).",
        "",
        f"Demo set ({len(demo)} clipart images, mean per case): tile formula {tile_s:.0f} sent vs {tile_o:.0f} original; "
        f"patch formula {patch_s:.0f} sent vs {patch_o:.0f} original.",
        "",
        "`detail: low` costs 85 tokens whatever the size under the tile formula (the model sees a 512 px",
        "version); the guide documents no low variant for the patch formula. `high`/`auto`:",
        "",
        "| photo | max_side | sent as | tile formula (high/auto) | patch formula (gpt-4.1-mini) | patch vs original |",
        "|---|---|---|---|---|---|",
    ]
    originals = {
        row["source"]: row["patch_tokens"] for row in t["table"] if row["detail"] == "high" and row["max_side"] is None
    }
    for row in t["table"]:
        if row["detail"] != "high":
            continue
        ratio = row["patch_tokens"] / originals[row["source"]]
        lines.append(
            f"| {row['source']} | {row['max_side'] or 'original'} | {row['sent']} | {row['tile_tokens']} | {row['patch_tokens']} | {ratio:.2f} |"
        )
    lines.append("")


def _peer(p: dict[str, Any], lines: list[str]) -> None:
    if "skipped" in p:
        lines += ["## 6. promptfoo side by side", "", f"Skipped: {p['skipped']}", ""]
        return
    ours, pf = p["ours"], p
    limit = p["cases"] * p["latency_s"] / p["concurrency"]
    o_live = ours["live"]["measured"]
    o_replay = min(ours["replay"].values(), key=lambda m: m["wall_s"])
    o_bytes = ours["bytes_on_disk"]["cassettes"]
    pf_bytes = pf["bytes_on_disk"]["results_db"] + pf["bytes_on_disk"]["cache"]
    lines += [
        f"## 6. promptfoo 0.118.0 side by side ({p['cases']} cases, {p['latency_s'] * 1000:.0f} ms, concurrency {p['concurrency']})",
        "",
        "| | listingeval | promptfoo | ours / promptfoo |",
        "|---|---|---|---|",
        f"| live wall | {o_live['wall_s']:.1f} s ({o_live['wall_s'] / limit:.2f}x limit) | {pf['live']['wall_s']:.1f} s "
        f"({pf['live']['wall_s'] / limit:.2f}x limit) | {o_live['wall_s'] / pf['live']['wall_s']:.2f} |",
        f"| live CPU | {o_live['cpu_s']:.1f} s | {pf['live']['cpu_s']:.1f} s | {o_live['cpu_s'] / pf['live']['cpu_s']:.2f} |",
        f"| live peak RSS (tree) | {o_live['tree_rss_mb']:.0f} MB | {pf['live']['tree_rss_mb']:.0f} MB | "
        f"{o_live['tree_rss_mb'] / pf['live']['tree_rss_mb']:.2f} |",
        f"| cached/replay wall | {o_replay['wall_s']:.1f} s | {pf['cached']['wall_s']:.1f} s | "
        f"{o_replay['wall_s'] / pf['cached']['wall_s']:.2f} |",
        f"| cached/replay CPU | {o_replay['cpu_s']:.1f} s | {pf['cached']['cpu_s']:.1f} s | {o_replay['cpu_s'] / pf['cached']['cpu_s']:.2f} |",
        f"| cached/replay peak RSS | {o_replay['tree_rss_mb']:.0f} MB | {pf['cached']['tree_rss_mb']:.0f} MB | "
        f"{o_replay['tree_rss_mb'] / pf['cached']['tree_rss_mb']:.2f} |",
        f"| bytes on disk | {_kb(o_bytes)} (cassettes) | {_kb(pf_bytes)} (results DB {_kb(pf['bytes_on_disk']['results_db'])}"
        f" + cache {_kb(pf['bytes_on_disk']['cache'])}) | {o_bytes / pf_bytes:.3f} |",
        "",
        f"promptfoo: {pf['live']['summary']} (live); {pf['cached']['summary']} (cached).",
        "",
    ]


def markdown(results: dict[str, Any]) -> str:
    """The whole results page."""
    meta = results["meta"]
    lines = [
        "# listingeval benchmarks",
        "",
        f"Generated by `python benchmarks/run.py{' --quick' if meta['quick'] else ''}` at {meta['started']} on git {meta['git']}, "
        f"{meta['cores']} cores, Python {meta['python']}; load average {meta['load_avg_at_start']} at start, "
        f"{meta.get('load_avg_at_end', '?')} at end (wall times stretch with load; CPU times do not).",
        "",
    ]
    if "replay" in results:
        _replay(results["replay"], lines)
    if "profile" in results:
        _profile(results["profile"], lines)
    if "live" in results:
        _live(results["live"], lines)
    if "footprint" in results:
        _footprint(results["footprint"], lines)
    if "tokens" in results:
        _tokens(results["tokens"], lines)
    if "replay" in results and results["replay"].get("serial"):
        serial = results["replay"]["serial"]["plugin"]
        lines += [
            "## 5. Memory",
            "",
            f"Peak RSS of the {results['replay']['cases']}-case serial replay: {serial['max_rss_mb']:.0f} MB "
            f"(-n 2 tree: {results['replay'].get('n2', {}).get('plugin', {}).get('tree_rss_mb', 0):.0f} MB).",
            "The service's load test: [service_load/RESULTS.md](service_load/RESULTS.md).",
            "",
        ]
    if "peer" in results:
        _peer(results["peer"], lines)
    return "\n".join(lines) + "\n"
