"""`listingeval runs compare`: what changed, per-field deltas, flips, sides of every kind, HTML."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from extractor.cli import main
from pytest_listingeval.baseline import BaselineError, build_baseline, load_baseline, write_baseline
from pytest_listingeval.compare import compare_sides, side_from_baseline, side_from_results
from pytest_listingeval.documents import incomplete_text, read_results
from pytest_listingeval.outcome import Comparison, Coverage, IncompleteRun, RunInfo, RunOutcome
from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.runs_cli import clean
from tests.plugin import test_runs_support as support

PROMPT_A, PROMPT_B = support.PROMPT_A, support.PROMPT_B
make_case, make_record, make_repeat_case = support.make_case, support.make_record, support.make_repeat_case
pair_of_runs, replace_case, write_json = support.pair_of_runs, support.replace_case, support.write_json
section, engine_comparison, edited_copy = support.section, support.engine_comparison, support.edited_copy
printed_rows, expected_rows = support.printed_rows, support.expected_rows

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


def test_prints_changes_field_deltas_flips_and_case_changes(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert code == 0 and err == ""
    a_pid, b_pid = f"default-{_sha8(PROMPT_A)}", f"concise-{_sha8(PROMPT_B)}"
    assert section(out, "What changed") == [
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
    rows = [line.split() for line in section(out, "Accuracy on the 4 cases both runs scored")]
    assert rows[0] == ["field", "A", "B", "delta", "n", "A>B", "B>A", "p"]
    overall_p = f"{engine_comparison(*pair_of_runs()).overall.p_value:.3f}"
    assert rows[1:6] == [
        ["category", "75.0", "25.0", "-50.0", "4", "2", "0", "0.500"],
        ["color", "75.0", "75.0", "0.0", "4", "1", "1", "1.000"],
        ["title", "100.0", "75.0", "-25.0", "4", "1", "0", "1.000"],
        # Overall resamples whole cases (as the gate does), not McNemar over pooled pairs.
        ["overall", "83.3", "58.3", "-25.0", "12", "4", "1", overall_p],
        ["exact", "cases", "50.0", "25.0", "-25.0", "4", "2", "1", "1.000"],
    ]
    assert [re.split(r"\s{2,}", line) for line in section(out, "Flipped cases (5)")] == [
        ["down", "c/four", "category", "category of c/four -> wrong category of c/four"],
        ["down", "c/one", "category", "category of c/one -> wrong category of c/one"],
        ["down", "c/three", "color", "color of c/three -> error: refusal"],
        ["down", "c/three", "title", "title of c/three -> error: refusal"],
        ["up", "c/two", "color", "wrong color of c/two -> color of c/two"],
    ]
    assert section(out, "Relabelled cases (0):") == ["none"]
    lines = out.splitlines()
    assert "Added cases (only in B): c/new" in lines
    assert "Removed cases (only in A): c/gone" in lines
    assert any(line.startswith("Harness errors, left out") and line.endswith(": none") for line in lines)
    assert any(line.startswith("Not re-scorable, left out") and line.endswith(": none") for line in lines)


def test_rows_are_the_engines_rows_exactly(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair_of_runs()
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir), "--json")
    assert code == 0
    assert json.loads(out)["comparison"] == engine_comparison(a, b).model_dump(mode="json")
    _, text, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert printed_rows(text) == expected_rows(engine_comparison(a, b))


def test_a_baseline_side_gives_the_gates_numbers(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = pair_of_runs()
    document = build_baseline(a.config, a.summary, a.cases)
    write_baseline(tmp_path / "baseline.json", document)
    code, out, _ = _compare(capsys, str(tmp_path / "baseline.json"), B_ID, "--dir", str(runs_dir), "--json")
    assert code == 0
    gate = compare_sides(side_from_baseline("baseline", document), side_from_results("current", b.config, b.cases))
    shown = Comparison.model_validate(json.loads(out)["comparison"])
    assert shown.model_dump(exclude={"config_changes"}) == gate.model_dump(exclude={"config_changes"})


def test_repeat_pass_rates_are_bootstrapped_not_binarised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repeats = {
        "r/1": {"category": (1, 1, 0), "color": (1, 1, 1)},
        "r/2": {"category": (0, 1, 0), "color": (1, 0, 1)},
        "r/3": {"category": (1, 1, 1), "color": (0, 0, 1)},
        "r/4": {"category": (1, 0, 0), "color": (1, 1, 1)},
        "r/5": {"category": (1, 1, 0), "color": (1, 1, 0)},
    }
    a = make_record(A_ID, [make_repeat_case(cid, r) for cid, r in repeats.items()])
    binary = {"r/1": (0, 1), "r/2": (0, 1), "r/3": (1, 0), "r/4": (0, 1), "r/5": (1, 1)}
    b = make_record(B_ID, [make_case(cid, {"category": c, "color": k}) for cid, (c, k) in binary.items()])
    write_json(tmp_path / f"{A_ID}.json", a)
    write_json(tmp_path / f"{B_ID}.json", b)
    engine = engine_comparison(a, b)
    assert engine.fields["category"].baseline == round((2 / 3 + 1 / 3 + 1 + 1 / 3 + 2 / 3) / 5, 6)
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["comparison"] == engine.model_dump(mode="json")
    _, text, _ = _compare(capsys, A_ID, B_ID, "--dir", str(tmp_path))
    rows = printed_rows(text)
    assert rows == expected_rows(engine)
    assert rows["category"][0] == "60.0"  # binarised (only full passes) it would be 20.0
    assert text.splitlines()[0].endswith("3 repeats, overall 66.7% on 5 cases")


def test_relabelled_case_is_shown_with_before_and_after(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair_of_runs()
    relabelled = make_case(
        "c/two",
        {"category": 1, "color": 1, "title": 1},
        expected={"category": "furniture"},
        critical=("category",),
    )
    b = replace_case(b, relabelled)
    write_json(runs_dir / f"{B_ID}.json", b)
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert code == 0
    assert section(out, "Relabelled cases (1):")[:2] == [
        "c/two  category    category of c/two -> furniture",
        "c/two  (critical)  the critical fields changed",
    ]
    # A's stored output is re-scored against B's new expectation: it no longer passes.
    flips = [re.split(r"\s{2,}", line) for line in section(out, "Flipped cases")]
    assert ["up", "c/two", "category", "category of c/two -> furniture"] in flips
    assert printed_rows(out) == expected_rows(engine_comparison(a, b))


def test_unscorable_and_errored_cases_are_listed_and_left_out(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = pair_of_runs()
    judged = {"title": {"judge": "a short title"}}
    a = replace_case(a, make_case("c/one", {"category": 1, "color": 1, "title": 1}, expected=judged))
    rubric = {"title": {"judge": "a title of at most five words"}}
    b = replace_case(b, make_case("c/one", {"category": 0, "color": 1, "title": 1}, expected=rubric))
    b = replace_case(b, make_case("c/two", {"category": 1, "color": 1, "title": 1}, harness_error="no cassette"))
    write_json(runs_dir / f"{A_ID}.json", a)
    write_json(runs_dir / f"{B_ID}.json", b)
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert code == 0
    lines = out.splitlines()
    assert (
        "Not re-scorable, left out (a changed judge rubric, a custom check registered only in a conftest.py, "
        "or no stored output): c/one"
    ) in lines
    assert "Harness errors, left out (the harness could not run them in A or B): c/two" in lines
    # Only the re-judged field is left out: c/one still counts on category and color.
    assert "Accuracy on the 3 cases both runs scored (%, delta in points):" in lines
    assert printed_rows(out) == expected_rows(engine_comparison(a, b))


def test_a_partial_run_is_said_to_be_partial(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair_of_runs()
    coverage = Coverage(case_set=59, selected=len(b.cases), not_selected=("x/left-out",))
    write_json(runs_dir / f"{A_ID}.json", a)
    write_json(runs_dir / f"{B_ID}.json", b.model_copy(update={"partial": True, "coverage": coverage}))
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert code == 0
    b_line = next(line for line in out.splitlines() if line.startswith("B: "))
    assert b_line.endswith(f"; a PARTIAL run ({len(b.cases)} of 59 cases)")
    assert "PARTIAL" not in next(line for line in out.splitlines() if line.startswith("A: "))


def test_terminal_escapes_in_model_output_are_not_printed(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, b = pair_of_runs()
    hostile = "\x1b[31mred\x1b[0m\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\x9b2J\x08\r\nnext\u202e"
    case = make_case("c/one", {"category": 0, "color": 1, "title": 1}, actual={"category": hostile})
    b = replace_case(b, case).model_copy(update={"config": b.config.model_copy(update={"model": "gpt\x1b[2J"})})
    write_json(runs_dir / f"{B_ID}.json", b)
    code, out, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    assert code == 0
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", out)
    assert "category of c/one -> redlink  next" in out
    assert "model: gpt-4.1-mini -> gpt" in out
    _, as_json, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir), "--json")
    assert as_json.isascii() and "\x1b" not in as_json
    assert hostile in {f["current_actual"] for f in json.loads(as_json)["comparison"]["flips"]}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text", "plain text"),
        ("\x1b[1;31mbold\x1b[0m", "bold"),
        ("\x1b]0;title\x1b\\after", "after"),
        ("\x1bPdevice\x1b\\after", "after"),
        ("tab\there", "tab here"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("8-bit \x9b31mcsi", "8-bit csi"),
        ("lone escape \x1b", "lone escape "),
        ("caf\u00e9 \u2192 ok", "caf\u00e9 \u2192 ok"),
    ],
)
def test_clean_strips_escapes_and_controls(text: str, shown: str) -> None:
    assert clean(text) == shown


def test_same_config_says_nothing_changed(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _compare(capsys, A_ID, A_ID, "--dir", str(runs_dir))
    assert code == 0
    assert section(out, "What changed") == ["nothing: same model, prompt text, schema and parameters"]
    assert "Flipped cases (0):" in out


def test_unique_prefixes_and_json_files_of_every_kind(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, expected, _ = _compare(capsys, A_ID, B_ID, "--dir", str(runs_dir))
    code, out, _ = _compare(capsys, "20260102T10", "20260102T11", "--dir", str(runs_dir))
    assert code == 0 and out == expected
    a, b = pair_of_runs()
    results_json = write_json(tmp_path / "b-results.json", b)
    baseline_file = tmp_path / "baseline.json"
    write_baseline(baseline_file, build_baseline(a.config, a.summary, a.cases))
    code, out, _ = _compare(capsys, str(baseline_file), str(results_json), "--dir", str(runs_dir))
    assert code == 0
    assert out.startswith(f"A: baseline (baseline {baseline_file})")
    assert out.splitlines()[1].startswith(f"B: b-results (run {results_json}, ")
    # Everything after the two header lines is identical to comparing the run records.
    assert out.splitlines()[2:] == expected.splitlines()[2:]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("20260102T1", "ambiguous"),
        ("nosuchref-xyz", "not a file or a run id"),
        ("missing.json", "file missing.json not found"),
    ],
)
def test_unknown_or_ambiguous_side_is_a_one_line_error(
    runs_dir: Path, spec: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _compare(capsys, spec, B_ID, "--dir", str(runs_dir))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_an_incomplete_run_is_a_one_line_error(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    died = "20260102T120000Z-dddddd"
    marker = IncompleteRun(run=RunInfo(id=died, time="2026-01-02T12:00:00+00:00", command="pytest -m eval"))
    (runs_dir / f"{died}.json").write_text(incomplete_text(marker), encoding="utf-8")
    for args in ((A_ID, died), (str(runs_dir / f"{died}.json"), B_ID)):
        code, out, err = _compare(capsys, *args, "--dir", str(runs_dir))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"run {died}" in err and "never finished" in err and "incomplete" in err


def test_unreadable_foreign_old_and_malformed_files_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", encoding="utf-8")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    a, _ = pair_of_runs()
    record = a.model_dump(mode="json")
    old = {key: value for key, value in record.items() if key != "version"}
    old_baseline = {"version": 1, "config": record["config"], "cases": {"c/one": {"fields": {}}}}
    malformed = {**record, "cases": [{"id": "c/one", "fields": {"title": {"score": "high"}}}]}
    files = [
        (bad, "not valid JSON"),
        (binary, "cannot read"),
        (write_json(tmp_path / "foreign.json", {"version": 1, "hello": "world"}), "not a listingeval results"),
        (write_json(tmp_path / "list.json", [1, 2, 3]), "not a JSON object"),
        (write_json(tmp_path / "old.json", old), "has no version"),
        (write_json(tmp_path / "old-baseline.json", old_baseline), "older listingeval"),
        (write_json(tmp_path / "malformed.json", malformed), "cases.0.fields.title.score"),
    ]
    for path, message in files:
        code, _, err = _compare(capsys, str(path), str(path), "--dir", str(tmp_path))
        assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err, err


def _git(repo: Path, *args: str) -> None:
    config = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *config, *args], cwd=repo, check=True)


def test_git_ref_reads_that_refs_committed_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[tool.listingeval]\nbaseline = "data/base.json"\nruns = "out/runs"\n', encoding="utf-8"
    )
    a, b = pair_of_runs()
    write_baseline(repo / "data" / "base.json", build_baseline(a.config, a.summary, a.cases))
    write_json(repo / "out" / "runs" / f"{B_ID}.json", b)
    _git(repo, "init", "-q", "-b", "trunk")
    _git(repo, "add", "pyproject.toml", "data/base.json")
    _git(repo, "commit", "-q", "-m", "baseline")
    monkeypatch.chdir(repo / "data")  # the project root is found from a sub-folder too
    code, out, err = _compare(capsys, "trunk", "20260102T11")
    assert code == 0, err
    assert out.startswith("A: trunk (baseline trunk:data/base.json)")
    assert ["category", "75.0", "25.0", "-50.0", "4", "2", "0", "0.500"] in [line.split() for line in out.splitlines()]


def test_html_page_is_self_contained_and_escaped(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = pair_of_runs()
    hostile = make_case("c/one", {"category": 0, "color": 1, "title": 1}, actual={"category": XSS})
    relabel = make_case("c/two", {"category": 1, "color": 1, "title": 1}, expected={"category": XSS})
    b = replace_case(replace_case(b, hostile), relabel)
    b = b.model_copy(update={"config": b.config.model_copy(update={"prompt_text": PROMPT_B + XSS + "\n"})})
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
    engine = engine_comparison(a, b)
    rows = [*engine.fields.items(), ("overall", engine.overall), ("exact cases", engine.exact_cases)]
    assert cells == [
        [
            *name.split(),
            fmt.pct(row.baseline),
            fmt.pct(row.current),
            fmt.points(row.delta),
            *(str(v) for v in (row.n, row.flipped_down, row.flipped_up)),
            fmt.p_value(row.p_value),
        ]
        for name, row in rows
    ]
    # c/two was relabelled to the XSS value: A's output is re-scored against it and now fails.
    assert cells[0] == ["category", "50.0%", "25.0%", "\u221225.0", "4", "2", "1", "1.000"]
    assert page.count('<tr class="down">') == 4 and page.count('<tr class="up">') == 2
    relabels = re.search(r'<table id="relabels">(.*?)</table>', page, re.S)
    assert relabels is not None and "category of c/two" in relabels.group(1)
    assert "<code>c/new</code>" in page and "<code>c/gone</code>" in page


@pytest.fixture(scope="module")
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_record(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    """A real run: the demo eval set replayed from the shipped cassettes; its results JSON is its run record."""
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
    assert out.is_file(), f"the demo eval run wrote no results:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
    record = read_results(out)
    assert isinstance(record, RunOutcome)
    assert len(record.cases) > 20 and record.config.prompt_text
    return record


def test_real_run_against_an_edited_copy(
    real_record: RunOutcome, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited, flips = edited_copy(real_record)
    folder = tmp_path / "runs"
    write_json(folder / f"{real_record.run.id}.json", real_record)
    write_json(folder / f"{edited.run.id}.json", edited)
    code, out, err = _compare(capsys, real_record.run.id, "2999", "--dir", str(folder))
    assert code == 0, err
    changed = section(out, "What changed")
    old_pid = real_record.config.prompt_id
    assert changed[0] == f"prompt: {old_pid} -> concise-0000beef"
    assert "+x" in changed and f"--- A/{old_pid}" in changed
    assert not any(line.startswith("model:") for line in changed)
    rows = printed_rows(out)
    assert rows == expected_rows(engine_comparison(real_record, edited))
    category = [c for c in real_record.cases if c.scored and "category" in c.fields]
    assert rows["category"][3:] == [str(len(category)), "2", "1", "1.000"]
    for name in ("color", "brand", "title"):
        assert rows[name][2] == "0.0" and rows[name][4:6] == ["0", "0"]
    flipped = [re.split(r"\s{2,}", line) for line in section(out, "Flipped cases (3)")]
    assert sorted((d, c, v.split(" -> ")[1]) for d, c, _, v in flipped) == sorted(flips)
    assert "Added cases (only in B): none" in out


def test_real_run_against_the_main_baseline(
    real_record: RunOutcome,
    tmp_path: Path,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_json(tmp_path / "real.json", real_record)
    monkeypatch.chdir(project_root)
    code, out, err = _compare(capsys, "main", str(path))
    try:
        load_baseline("main", project_root, project_root / "reports" / "baseline.json")
    except BaselineError as exc:
        # main's committed baseline predates this listingeval: the command must say so in one line.
        assert code == 2 and err.count("\n") == 1 and str(exc).split(";")[0] in err
        return
    assert code == 0, err
    assert out.startswith("A: main (baseline main:reports/baseline.json)")
    assert "Accuracy on the" in out
