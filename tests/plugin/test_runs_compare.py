"""`listingeval runs compare`: what changed, per-field deltas, flips, sides of every kind, HTML."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extractor.cli import main

try:
    from tests.plugin.test_runs_support import (
        PROMPT_A,
        PROMPT_B,
        pair_of_runs,
        write_json,
    )
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from test_runs_support import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        PROMPT_A,
        PROMPT_B,
        pair_of_runs,
        write_json,
    )

A_ID = "20260102T100000Z-aaaaaa"
B_ID = "20260102T110000Z-bbbbbb"
XSS = "<script>alert('x')</script>"


def _sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    a, b = pair_of_runs()
    write_json(tmp_path / "runs" / f"{A_ID}.json", a)
    write_json(tmp_path / "runs" / f"{B_ID}.json", b)
    return tmp_path / "runs"


def _compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["runs", "compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _section(out: str, title: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return [line.strip() for line in lines[start + 1 : end]]


def test_prints_changes_field_deltas_flips_and_case_changes(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert code == 0 and err == ""
    a_pid, b_pid = f"default-{_sha8(PROMPT_A)}", f"concise-{_sha8(PROMPT_B)}"
    assert _section(out, "What changed") == [
        "model: gpt-4.1-mini -> gpt-4.1",
        f"prompt: {a_pid} -> {b_pid}",
        "schema: 586e0251 -> 11112222",
        "schema: field added: material",
        "param temperature: null -> 0.2",
        "prompt text diff:",
        f"--- A/{a_pid}",
        f"+++ B/{b_pid}",
        "@@ -1,3 +1,3 @@",
        "You write listings.",
        "-Look at the photo.",
        "-Title at most 80 characters.",
        "+Look only at the photo.",
        "+Title at most 60 characters.",
    ]
    rows = [line.split() for line in _section(out, "Accuracy on the 4 cases in both runs")]
    assert rows[0] == ["field", "A", "B", "delta", "n", "A>B", "B>A", "p", "(McNemar)"]
    assert rows[1:6] == [
        ["category", "75.0", "25.0", "-50.0", "4", "2", "0", "0.500"],
        ["color", "75.0", "75.0", "0.0", "4", "1", "1", "1.000"],
        ["title", "100.0", "75.0", "-25.0", "4", "1", "0", "1.000"],
        ["overall", "83.3", "58.3", "-25.0", "12", "4", "1", "0.375"],
        ["exact", "cases", "50.0", "25.0", "-25.0", "4", "2", "1", "1.000"],
    ]
    assert [re.split(r"\s{2,}", line) for line in _section(out, "Flipped cases (5)")] == [
        ["down", "c/four", "category", "category-ok-c/four -> category-bad-c/four"],
        ["down", "c/one", "category", "category-ok-c/one -> category-bad-c/one"],
        ["down", "c/three", "color", "color-ok-c/three -> error: refusal"],
        ["down", "c/three", "title", "title-ok-c/three -> error: refusal"],
        ["up", "c/two", "color", "color-bad-c/two -> color-ok-c/two"],
    ]
    assert "Added cases (only in B): c/new" in out.splitlines()
    assert "Removed cases (only in A): c/gone" in out.splitlines()


def test_same_config_says_nothing_changed(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _compare(capsys, A_ID, A_ID, "--dir", str(runs_dir))
    assert code == 0
    assert _section(out, "What changed") == ["nothing: same model, prompt text, schema and parameters"]
    assert "Flipped cases (0):" in out


def test_unique_prefixes_and_json_files_of_every_kind(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, expected, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    code, out, _ = _compare(capsys, "20260102T10", "20260102T11", "--dir", str(runs_dir))
    assert code == 0 and out == expected
    a, b = pair_of_runs()
    results_json = write_json(tmp_path / "b-results.json", {k: v for k, v in b.items() if k != "run"})
    baseline = {
        "version": 1,
        "config": a["config"],
        "summary": a["summary"],
        "cases": {
            c["id"]: {
                "error": None,
                "fields": {n: {"score": f["score"], "actual": f["actual"]} for n, f in c["fields"].items()},
            }
            for c in a["cases"]
        },
    }
    baseline_file = write_json(tmp_path / "baseline.json", baseline)
    code, out, _ = _compare(capsys, str(baseline_file), str(results_json), "--dir", str(runs_dir))
    assert code == 0
    assert out.startswith(f"A: baseline (baseline {baseline_file}")
    assert out.splitlines()[1].startswith(f"B: b-results (results JSON {results_json}")
    # Everything after the two header lines is identical to comparing the run records.
    assert out.splitlines()[2:] == expected.splitlines()[2:]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("20260102T1", "ambiguous"),
        ("nosuchref-xyz", "not a file, not a run id"),
        ("missing.json", "file missing.json not found"),
    ],
)
def test_unknown_or_ambiguous_side_is_a_one_line_error(
    runs_dir: Path, spec: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _compare(capsys, spec, B_ID, "--dir", str(runs_dir))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_unreadable_json_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", encoding="utf-8")
    foreign = write_json(tmp_path / "foreign.json", {"hello": "world"})
    for path in (bad, foreign):
        code, _, err = _compare(capsys, str(path), str(path), "--dir", str(tmp_path))
        assert code == 2 and err.count("\n") == 1, err


def test_git_ref_reads_that_refs_committed_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[tool.listingeval]\nbaseline = "data/base.json"\nruns = "out/runs"\n', encoding="utf-8"
    )
    a, b = pair_of_runs()
    write_json(repo / "data" / "base.json", {"config": a["config"], "cases": {c["id"]: c for c in a["cases"]}})
    write_json(repo / "out" / "runs" / f"{B_ID}.json", b)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "trunk"], cwd=repo, check=True)
    subprocess.run([*git, "add", "pyproject.toml", "data/base.json"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "baseline"], cwd=repo, check=True)
    monkeypatch.chdir(repo / "data")  # the project root is found from a sub-folder too
    code, out, err = _compare(capsys, "trunk", "20260102T11")
    assert code == 0, err
    assert out.startswith("A: trunk (baseline trunk:data/base.json)")
    assert ["category", "75.0", "25.0", "-50.0", "4", "2", "0", "0.500"] in [line.split() for line in out.splitlines()]


def test_html_page_is_self_contained_and_escaped(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, b = pair_of_runs()
    b["cases"][0]["fields"]["category"]["actual"] = XSS
    b["config"]["prompt_text"] = PROMPT_B + XSS + "\n"
    write_json(runs_dir / f"{B_ID}.json", b)
    page_path = tmp_path / "out" / "compare.html"
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir), "--html", str(page_path))
    assert code == 0 and out.rstrip().endswith(f"HTML comparison: {page_path}")
    page = page_path.read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external resources"
    assert "<style>" in page
    assert '<span class="add">+Look only at the photo.</span>' in page
    assert '<span class="del">-Look at the photo.</span>' in page
    fields = re.search(r'<table id="fields">(.*?)</table>', page, re.S)
    assert fields is not None
    cells = [re.sub(r"<[^>]+>", " ", row).split() for row in fields.group(1).split("</tr>")[1:-1]]
    assert cells[0] == ["category", "75.0%", "25.0%", "\u221250.0", "4", "2", "0", "0.500"]
    assert cells[3] == ["overall", "83.3%", "58.3%", "\u221225.0", "12", "4", "1", "0.375"]
    assert page.count('<tr class="down">') == 4 and page.count('<tr class="up">') == 1
    assert "<code>c/new</code>" in page and "<code>c/gone</code>" in page


@pytest.fixture(scope="module")
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_record(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real run: the demo eval set replayed from the shipped cassettes, as a run record."""
    from datetime import UTC, datetime

    from pytest_listingeval.outputs import run_record

    out = tmp_path_factory.mktemp("real") / "results.json"
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-m", "eval", "-p", "no:randomly", "-p", "no:xdist"),
            *("-q", "--eval-no-run-record", "--eval-json", str(out)),
        ],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.is_file(), f"the demo eval run wrote no results:\n{completed.stdout[-3000:]}"
    outcome: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    record = run_record(outcome, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    assert len(record["cases"]) > 20 and record["config"]["prompt_text"]
    return record


def _edited_copy(record: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """A second run: another prompt, and three category scores flipped (two down, one up)."""
    copy_ = copy.deepcopy(record)
    copy_["run"]["id"] = "29990101T000000Z-edited"
    copy_["run"]["time"] = "2999-01-01T00:00:00+00:00"
    copy_["config"]["prompt"] = "concise"
    copy_["config"]["prompt_id"] = "concise-0000beef"
    copy_["config"]["prompt_text"] = record["config"]["prompt_text"] + "Answer briefly.\n"
    flips: list[tuple[str, str, str]] = []
    right = [c for c in copy_["cases"] if not c["error"] and c["fields"].get("category", {}).get("score") == 1]
    wrong = [c for c in copy_["cases"] if not c["error"] and c["fields"].get("category", {}).get("score") == 0]
    for case, direction in ((right[0], "down"), (right[1], "down"), (wrong[0], "up")):
        field = case["fields"]["category"]
        field["score"] = 0 if direction == "down" else 1
        field["actual"] = "other" if direction == "down" else field["expected"]
        flips.append((direction, case["id"], field["actual"]))
    return copy_, flips


def test_real_run_against_an_edited_copy(
    real_record: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited, flips = _edited_copy(real_record)
    folder = tmp_path / "runs"
    write_json(folder / f"{real_record['run']['id']}.json", real_record)
    write_json(folder / f"{edited['run']['id']}.json", edited)
    code, out, err = _compare(capsys, real_record["run"]["id"], "2999", "--dir", str(folder))
    assert code == 0, err
    changed = _section(out, "What changed")
    old_pid = real_record["config"]["prompt_id"]
    assert changed[0] == f"prompt: {old_pid} -> concise-0000beef"
    assert "+Answer briefly." in changed and f"--- A/{old_pid}" in changed
    assert not any(line.startswith("model:") for line in changed)
    scored = [c for c in real_record["cases"] if "category" in c["fields"]]
    n = len(scored)
    ok = sum(c["fields"]["category"]["score"] for c in scored)
    rows = {
        line.split()[0]: line.split() for line in _section(out, f"Accuracy on the {len(real_record['cases'])} cases")
    }
    assert rows["category"] == [
        "category",
        f"{ok / n * 100:.1f}",
        f"{(ok - 1) / n * 100:.1f}",
        f"{-1 / n * 100:+.1f}",
        str(n),
        "2",
        "1",
        "1.000",
    ]
    for name in ("color", "brand", "title"):
        assert rows[name][3:7] == ["0.0", rows[name][4], "0", "0"]
    flipped = [re.split(r"\s{2,}", line) for line in _section(out, "Flipped cases (3)")]
    assert sorted((d, c, v.split(" -> ")[1]) for d, c, _, v in flipped) == sorted(flips)
    assert "Added cases (only in B): none" in out


def test_real_run_against_the_main_baseline(
    real_record: dict[str, Any],
    tmp_path: Path,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_json(tmp_path / "real.json", real_record)
    monkeypatch.chdir(project_root)
    code, out, err = _compare(capsys, "main", str(path))
    assert code == 0, err
    assert out.startswith("A: main (baseline main:reports/baseline.json)")
    assert "Accuracy on the" in out
