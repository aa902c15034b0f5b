"""xdist: the same results as a serial run, and a crashed worker never turns into silence."""

from __future__ import annotations

import pytest

from tests.plugin.harness_support import CASES, GenericProject, fullwidth, instrument, strip_timing


def _project(pytester: pytest.Pytester) -> GenericProject:
    project = GenericProject(pytester)
    kinds = ["violin", "guitar", "drum", "other"]
    for i in range(8):
        kind = kinds[i % 4]
        answer = instrument(f"Item {i}", kind if i % 3 else "other", maker=None if i % 2 else "Acme")
        project.add(f"set/c{i}", {"name": f"item {i}", "kind": kind, "maker": None}, answer, critical=["name"])
    return project


def test_serial_and_two_workers_agree(pytester: pytest.Pytester) -> None:
    """The whole check matrix against a baseline: summary (minus timings), per-case fields,
    errors and outputs, verdict and comparison are the same serially and with -n 2."""
    project = GenericProject(pytester)
    for case_id, expected, answer, _ in CASES:
        project.add(case_id, expected, answer)
    project.add("crit", {"kind": "violin"}, instrument(kind="drum"), critical=["kind"])
    project.run("-m", "eval", "--update-baseline")
    project.answer("eq/fullwidth", instrument(fullwidth("Violin"), "drum"))
    serial = project.run("-m", "eval", "--baseline", "reports/baseline.json", json_name="serial.json")
    parallel = project.run("-m", "eval", "--baseline", "reports/baseline.json", "-n", "2", json_name="parallel.json")
    assert serial.ret == parallel.ret != 0
    assert strip_timing(serial.json["summary"]) == strip_timing(parallel.json["summary"])
    assert [(c["id"], c["fields"], c["error"], c["output"]) for c in serial.json["cases"]] == [
        (c["id"], c["fields"], c["error"], c["output"]) for c in parallel.json["cases"]
    ]
    for key in ("verdict", "regressions", "critical_misses", "comparison"):
        assert serial.json[key] == parallel.json[key], key
    assert serial.json["summary"]["cases"] == len(CASES) + 1
    assert parallel.json["critical_misses"] == [{"case": "crit", "field": "kind"}]
    # enum members handed back by the task travel from the workers as plain values
    assert (
        parallel.json["cases"][[c["id"] for c in parallel.json["cases"]].index("eq/enum-member")]["output"]["kind"]
        == "drum"
    )


def test_crashed_worker_becomes_an_error_for_its_case(pytester: pytest.Pytester) -> None:
    """A task that kills its worker process: that case is an error, the others are present."""
    project = _project(pytester)
    project.answer("set/c3", {"__exit__": 1})
    run = project.run("-m", "eval", "-n", "2")
    assert run.ret != 0
    data = run.json
    assert data["verdict"] == "error"
    assert [c["id"] for c in data["cases"]] == [f"set/c{i}" for i in range(8)]
    crashed = run.case("set/c3")
    assert crashed["error"]["type"] == "harness_error"
    assert "crashed" in crashed["harness_error"]
    assert set(crashed["fields"]) == {"name", "kind", "maker"}
    assert all(f["score"] == 0 for f in crashed["fields"].values())
    assert crashed["image"] == "cases/images/set__c3.png"
    assert data["summary"]["errors"] == 0 and data["summary"]["harness_errors"] == 1
    others = [c for c in data["cases"] if c["id"] != "set/c3"]
    assert all(c["error"] is None for c in others)
    assert any("set/c3" in e for e in data["harness_errors"])
