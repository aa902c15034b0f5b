"""`listingeval runs list`: table, filters, JSON, the incremental index, bad files and speed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from extractor.cli import main
from pytest_listingeval import runs as runs_module
from pytest_listingeval.documents import incomplete_text, results_text
from pytest_listingeval.outcome import IncompleteRun, RunInfo, RunOutcome, Verdict
from pytest_listingeval.runs import INDEX_NAME, index_record, scan_runs
from tests.plugin.test_runs_support import make_case, make_record, realistic_record, write_json


def _record(run_id: str, model: str, prompt: str, overall_ok: int, verdict: Verdict = "pass") -> RunOutcome:
    cases = [make_case(f"c/{i}", {"category": int(i < overall_ok), "color": 1}) for i in range(4)]
    return make_record(run_id, cases, model=model, prompt=prompt, verdict=verdict)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    write_json(
        folder / "20260103T090000Z-aaaaaa.json", _record("20260103T090000Z-aaaaaa", "gpt-4.1-mini", "default", 4)
    )
    write_json(
        folder / "20260103T100000Z-bbbbbb.json",
        _record("20260103T100000Z-bbbbbb", "gpt-4.1", "concise", 2, "regression"),
    )
    write_json(
        folder / "20260103T080000Z-cccccc.json", _record("20260103T080000Z-cccccc", "gpt-4.1-mini", "concise", 3)
    )
    return folder


def _list(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["runs", "list", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_is_newest_first_with_fields_cases_cost_and_verdict(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _list(capsys, "--dir", str(runs_dir))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "time",
        "run",
        "model",
        "prompt",
        "overall",
        "category",
        "color",
        "cases",
        "errors",
        "cost",
        "verdict",
    ]
    ids = [line.split()[2] for line in lines[1:]]
    assert ids == ["20260103T100000Z-bbbbbb", "20260103T090000Z-aaaaaa", "20260103T080000Z-cccccc"]
    row = lines[1].split()
    assert row[:3] == ["2026-01-03", "10:00", "20260103T100000Z-bbbbbb"]
    assert row[3] == "gpt-4.1" and row[4].startswith("concise-")
    # overall 6/8 pairs, category 2/4, color 4/4, 4 cases, 0 errors
    assert row[5:] == ["75.0", "50.0", "100.0", "4", "0", "$0.0123", "regression"]


def test_filters_limit_and_json(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _list(capsys, "--dir", str(runs_dir), "--model", "gpt-4.1-mini", "--json")
    data = json.loads(out)
    assert [r["id"] for r in data] == ["20260103T090000Z-aaaaaa", "20260103T080000Z-cccccc"]
    assert data[0]["fields"] == {"category": 1.0, "color": 1.0}
    assert data[0]["overall"] == 1.0 and data[0]["verdict"] == "pass"
    _, out, _ = _list(capsys, "--dir", str(runs_dir), "--prompt", "concise", "--json")
    assert [r["id"] for r in json.loads(out)] == ["20260103T100000Z-bbbbbb", "20260103T080000Z-cccccc"]
    _, out, _ = _list(
        capsys, "--dir", str(runs_dir), "--prompt", "concise-*", "--model", "gpt-4.1*", "--limit", "1", "--json"
    )
    assert [r["id"] for r in json.loads(out)] == ["20260103T100000Z-bbbbbb"]
    code, out, _ = _list(capsys, "--dir", str(runs_dir), "--model", "nope")
    assert code == 0 and out.startswith("no run records in")


def test_corrupt_foreign_and_old_files_are_skipped_with_one_line_warnings(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (runs_dir / "20260103T110000Z-broken.json").write_text('{"run": {"id": "x"', encoding="utf-8")
    write_json(runs_dir / "baseline.json", {"version": 1, "config": {}, "cases": {}})
    write_json(runs_dir / "list.json", [1, 2, 3])
    (runs_dir / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    old = _record("20260103T070000Z-eeeeee", "m", "p", 1).model_dump(mode="json")
    del old["version"]  # written by a listingeval from before versioned documents
    write_json(runs_dir / "20260103T070000Z-eeeeee.json", old)
    for _ in range(2):  # the second time the skips come from the index, with the same warnings
        code, out, err = _list(capsys, "--dir", str(runs_dir))
        assert code == 0
        assert len(out.splitlines()) == 4
        warnings = err.splitlines()
        assert len(warnings) == 5, err
        assert all(w.startswith("listingeval: warning: skipping ") for w in warnings)
        assert "Traceback" not in err
        assert any("broken.json, which is not valid JSON" in w for w in warnings)
        assert any("baseline.json, which is not a listingeval results document" in w for w in warnings)
        assert any("list.json, which is not a JSON object" in w for w in warnings)
        assert any("binary.json, which is not UTF-8 text" in w for w in warnings)
        assert any("eeeeee.json, which has no version; this listingeval reads version 1" in w for w in warnings)


def test_a_run_that_died_is_listed_as_incomplete(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = IncompleteRun(run=RunInfo(id="20260103T110000Z-dddddd", time="2026-01-03T11:00:00+00:00"))
    (runs_dir / "20260103T110000Z-dddddd.json").write_text(incomplete_text(marker), encoding="utf-8")
    code, out, err = _list(capsys, "--dir", str(runs_dir))
    assert code == 0 and err == ""
    row = out.splitlines()[1].split()
    assert row[:3] == ["2026-01-03", "11:00", "20260103T110000Z-dddddd"] and row[-1] == "incomplete"


def test_model_and_prompt_names_cannot_drive_the_terminal(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = _record("20260103T110000Z-ffffff", "gpt\x1b]0;pwned\x07-4.1\x1b[2J", "p\x9b31m", 4)
    write_json(runs_dir / "20260103T110000Z-ffffff.json", record)
    _, out, _ = _list(capsys, "--dir", str(runs_dir))
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    assert out.splitlines()[1].split()[3] == "gpt-4.1"


def test_missing_folder_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _list(capsys, "--dir", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no runs folder" in err


def test_index_rereads_only_new_or_changed_files(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = runs_module.read_record

    def counting(path: Path) -> RunOutcome | IncompleteRun:
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(runs_module, "read_record", counting)
    warnings: list[str] = []
    assert len(scan_runs(runs_dir, warnings.append)) == 3
    assert len(calls) == 3 and (runs_dir / INDEX_NAME).is_file()
    calls.clear()
    assert len(scan_runs(runs_dir, warnings.append)) == 3
    assert calls == []
    # A changed record (new size) is re-read; a new one is read; a deleted one disappears.
    changed = runs_dir / "20260103T090000Z-aaaaaa.json"
    write_json(changed, _record("20260103T090000Z-aaaaaa", "gpt-4.1-mini", "default", 4, "regression"))
    write_json(runs_dir / "20260103T120000Z-dddddd.json", _record("20260103T120000Z-dddddd", "m", "p", 1))
    (runs_dir / "20260103T080000Z-cccccc.json").unlink()
    runs = scan_runs(runs_dir, warnings.append)
    assert sorted(calls) == ["20260103T090000Z-aaaaaa.json", "20260103T120000Z-dddddd.json"]
    assert [r.id for r in runs] == ["20260103T120000Z-dddddd", "20260103T100000Z-bbbbbb", "20260103T090000Z-aaaaaa"]
    assert runs[2].verdict == "regression"
    lines = (runs_dir / INDEX_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3  # compacted: the deleted record and the stale line are gone
    assert warnings == []


def test_corrupt_index_lines_are_ignored_and_repaired(runs_dir: Path) -> None:
    scan_runs(runs_dir, print)
    index = runs_dir / INDEX_NAME
    good = index.read_text(encoding="utf-8").splitlines()
    index.write_text(
        "\n".join(["{not json", good[0][: len(good[0]) // 2], *good[1:], '{"v": 99}']) + "\n", encoding="utf-8"
    )
    runs = scan_runs(runs_dir, print)
    assert len(runs) == 3
    assert len(index.read_text(encoding="utf-8").splitlines()) == 3


def test_concurrent_listers_and_writers_leave_a_usable_index(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    for i in range(40):
        write_json(
            folder / f"20260104T0000{i:02d}Z-{i:06x}.json", _record(f"20260104T0000{i:02d}Z-{i:06x}", "m", "p", i % 4)
        )
    results: list[int] = []
    errors: list[BaseException] = []

    def lister() -> None:
        try:
            for _ in range(5):
                results.append(len(scan_runs(folder, lambda _: None)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer() -> None:
        for i in range(40, 60):
            write_json(
                folder / f"20260104T0001{i - 40:02d}Z-{i:06x}.json",
                _record(f"20260104T0001{i - 40:02d}Z-{i:06x}", "m", "p", 2),
            )

    threads = [threading.Thread(target=lister) for _ in range(6)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(40 <= n <= 60 for n in results)
    final_warnings: list[str] = []
    assert len(scan_runs(folder, final_warnings.append)) == 60
    assert final_warnings == []


def test_500_realistic_records_list_from_the_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After the first listing, records are not parsed again (timing lives in benchmarks/runs_list.py)."""
    folder = tmp_path / "runs"
    folder.mkdir()
    for i in range(500):
        record = realistic_record(i)
        # Pydantic's own JSON writer: the same document as results_text, several times faster to write.
        (folder / f"{record.run.id}.json").write_text(record.model_dump_json(indent=2), encoding="utf-8")
    sizes = [p.stat().st_size for p in folder.glob("*.json")]
    assert min(sizes) > 60_000, "records should be of realistic size"
    code, first, _ = _list(capsys, "--dir", str(folder), "--limit", "500")
    assert code == 0 and len(first.splitlines()) == 501
    # Same size and mtime, unreadable content: only the index can still answer, and it must.
    for path in folder.glob("*.json"):
        stat = path.stat()
        path.write_bytes(b"x" * stat.st_size)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, again, warnings = _list(capsys, "--dir", str(folder), "--limit", "500")
    assert code == 0 and again == first
    assert warnings == ""


@pytest.mark.parametrize("form", ["outcome", "dict"])
def test_a_record_indexed_when_written_is_never_parsed_by_a_listing(tmp_path: Path, form: str) -> None:
    record = realistic_record(7)
    path = tmp_path / f"{record.run.id}.json"
    path.write_text(results_text(record), encoding="utf-8")
    index_record(path, record if form == "outcome" else record.model_dump(mode="json"))
    stat = path.stat()
    path.write_bytes(b"x" * stat.st_size)  # unreadable now: only the index can answer
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    warnings: list[str] = []
    (run,) = scan_runs(tmp_path, warnings.append)
    assert run.id == record.run.id and run.overall == record.summary.overall and warnings == []


def test_an_index_line_of_an_older_index_version_is_not_trusted(runs_dir: Path) -> None:
    scan_runs(runs_dir, print)
    index = runs_dir / INDEX_NAME
    lines = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line["v"] -= 1
        line["run"]["model"] = "stale"
    index.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert {run.model for run in scan_runs(runs_dir, print)} == {"gpt-4.1", "gpt-4.1-mini"}
