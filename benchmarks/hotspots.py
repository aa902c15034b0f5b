"""Where a serial replay spends its time: cProfile over `pytest -m eval`, grouped by harness stage.

Each stage is the inclusive (cumulative) time of one function, so stages nest (the task
contains image preparation and the SDK call, which contains the cassette replay). Shares
are of the whole profiled process. cProfile slows Python code more than C code, so the
shares are indicative; `py-spy record` gives unbiased ones when it is installed.
"""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

from measure import run

# (label, file suffix, function name); the first match wins.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("whole process", "_pytest/config/__init__.py", "main"),
    ("collection (all)", "_pytest/main.py", "perform_collect"),
    ("  case files: load_case (yaml + validation)", "pytest_listingeval/cases.py", "load_case"),
    ("  yaml.safe_load (pure-Python loader)", "yaml/__init__.py", "safe_load"),
    ("  pydantic TypeAdapter() construction", "pydantic/type_adapter.py", "__init__"),
    ("run loop (all cases)", "_pytest/main.py", "pytest_runtestloop"),
    ("  vcrpy use_cassette enter (patch HTTP clients + load)", "vcr/cassette.py", "__enter__"),
    ("    vcrpy cassette load (YAML parse)", "vcr/cassette.py", "_load"),
    ("  vcrpy use_cassette exit (unpatch)", "vcr/cassette.py", "__exit__"),
    ("  task.run (extractor, per case)", "extractor/eval.py", "run"),
    ("    prepare_image (Pillow resize + JPEG)", "extractor/images.py", "prepare_image"),
    ("    prompt render (jinja2)", "extractor/prompts.py", "render"),
    ("    SDK call incl. cassette replay", "extractor/client.py", "_call_once"),
    ("      vcrpy request matching (canonical body)", "pytest_listingeval/cassettes.py", "_body_matcher"),
    ("      SDK response parse (pydantic)", "openai/_legacy_response.py", "parse"),
    ("  scoring (score_case)", "pytest_listingeval/scoring.py", "score_case"),
    (
        "  makereport hook (result to report + pytest-html extras)",
        "pytest_listingeval/plugin.py",
        "pytest_runtest_makereport",
    ),
    ("    pytest-html case extras (thumbnail + jinja2)", "pytest_listingeval/report/pytest_html.py", "case_extras"),
    ("  terminal progress/report status", "_pytest/terminal.py", "pytest_runtest_logreport"),
    ("session finish (aggregate, gate, outputs)", "pytest_listingeval/plugin.py", "pytest_sessionfinish"),
)


def profile_run(project: Path, python: str, env: dict[str, str], out: Path) -> Path:
    """Run the serial eval under cProfile; the stats file."""
    cmd = [python, "-m", "cProfile", "-o", str(out), "-m", "pytest", "-m", "eval", "--eval-no-run-record", "-q"]
    measured = run(cmd, project, env, poll_rss=False)
    if not out.is_file():
        raise RuntimeError(f"profiling failed:\n{measured.output_tail}")
    return out


def stages(stats_path: Path) -> list[dict[str, Any]]:
    """Inclusive seconds and share of the whole for each stage found."""
    stats = pstats.Stats(str(stats_path))
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = max((ct for (_, _, _, ct, _) in table.values()), default=1.0)
    rows = []
    for label, suffix, name in STAGES:
        found = [v for (file, _, func), v in table.items() if func == name and file.endswith(suffix)]
        if not found:
            continue
        cumulative = max(v[3] for v in found)
        calls = sum(v[1] for v in found)
        rows.append(
            {"stage": label, "seconds": round(cumulative, 3), "share": round(cumulative / total, 3), "calls": calls}
        )
    return rows


def top_functions(stats_path: Path, limit: int = 12) -> list[dict[str, Any]]:
    """The functions with the most time of their own."""
    stats = pstats.Stats(str(stats_path))
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = max((ct for (_, _, _, ct, _) in table.values()), default=1.0)
    ranked = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]
    return [
        {
            "function": f"{Path(file).parent.name}/{Path(file).name}:{line}({func})" if file != "~" else func,
            "own_seconds": round(v[2], 3),
            "share": round(v[2] / total, 3),
        }
        for (file, line, func), v in ranked
    ]
