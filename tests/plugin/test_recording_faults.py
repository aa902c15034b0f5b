"""Recording with the API unreachable is a harness error, never a model answer, and leaves no cassette.

The generic task (harness_support) asks an OpenAI-compatible server when FAKE_TASK_URL is set
and raises on a transport error; the extractor's variant, which returns the error as its
result, is in test_harness_faults.py. Every test runs serially, in threads
(--eval-concurrency) and in xdist workers, which take different cassette code paths.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_listingeval.fake_openai import FakeOpenAI, unreachable_base_url
from tests.plugin.harness_support import (
    NO_REQUESTS_MARKER,
    GenericProject,
    Run,
    image_stem,
    instrument,
    read_cassette,
)

RUNNERS = {"serial": (), "threads": ("--eval-concurrency", "4"), "xdist": ("-n", "2")}
NET = {"net/violin": instrument("Violin"), "net/guitar": instrument("Guitar", "guitar")}
REFUSED = "local/refused"
UNREACHABLE = "the API could not be reached while recording"


@pytest.fixture(params=list(RUNNERS))
def runner(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """Extra pytest arguments choosing how the cases run."""
    return RUNNERS[request.param]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server; FAKE_TASK_URL is set by each test."""
    with FakeOpenAI() as fake:
        fake.answer_with(None)  # an image without an answer gets a 400: cross-talk cannot pass
        yield fake


def _project(pytester: pytest.Pytester) -> GenericProject:
    """Two cases whose task asks the server, one refused locally (no request at all); no cassettes."""
    project = GenericProject(pytester)
    project.add("net/violin", {"name": "violin", "kind": "violin"}, instrument(), cassette=False)
    project.add("net/guitar", {"name": "guitar", "kind": "guitar"}, instrument(), cassette=False)
    refusal = {"__error__": {"type": "refusal", "message": "refused before any request"}}
    project.add(REFUSED, {"name": "drum"}, refusal, cassette=False)
    return project


def _serve(server: FakeOpenAI, project: GenericProject) -> None:
    for case_id, answer in NET.items():
        image = project.path / "cases" / "images" / f"{image_stem(case_id)}.png"
        server.answer_image(hashlib.sha256(image.read_bytes()).hexdigest(), answer)


def _command_args(message: str) -> list[str]:
    """The pytest arguments of the command that ends a harness message."""
    words = shlex.split(message.rsplit("with: ", 1)[1])
    return words[words.index("pytest") + 1 :]


def _assert_refused_case_scored(run: Run, project: GenericProject) -> None:
    """The locally refused case is a model outcome (scored 0) with a cassette marked as request-free."""
    refused = run.case(REFUSED)
    assert refused["harness_error"] is None
    assert refused["error"] == {"type": "refusal", "message": "refused before any request"}
    assert run.scores(REFUSED) == {"name": 0}
    data = read_cassette(project.cassette(REFUSED))
    assert data["interactions"] == []
    assert data["metadata"] == {NO_REQUESTS_MARKER: True}


def _assert_unreachable(run: Run, project: GenericProject, mode: str) -> None:
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text
    assert run.json["verdict"] == "error"
    outcomes = run.result.parseoutcomes()
    assert outcomes.get("failed") == len(NET) and "passed" not in outcomes, outcomes
    for case_id in NET:
        case = run.case(case_id)
        # a harness error, not the task's failure scored as a model answer
        assert case["error"]["type"] == "harness_error", case["error"]
        assert case["output"] is None
        message = case["harness_error"]
        assert message.startswith(f"{UNREACHABLE}: 1 request got no answer"), message
        assert "ConnectError" in message, message
        assert _command_args(message)[:3] == ["-m", "eval", "--record-mode=once"], message
        assert message.endswith(f" cases/{case_id}.yaml"), message
        assert f"{case_id}: {message}" in run.json["harness_errors"]
        run.result.stdout.fnmatch_lines([f"*{case_id}: {UNREACHABLE}: 1 request got no answer*"])
        assert not project.cassette(case_id).exists(), f"{mode}: {case_id} left a cassette"
    assert "Traceback" not in run.text
    _assert_refused_case_scored(run, project)


@pytest.mark.parametrize("mode", ["once", "new_episodes", "all", "rewrite"])
def test_connection_refused_while_recording_is_a_harness_error(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Every record mode: the unreachable cases fail with one line and no cassette; --record-mode=once then works."""
    project = _project(pytester)
    monkeypatch.setenv("FAKE_TASK_URL", unreachable_base_url())
    failed = project.run("-m", "eval", f"--record-mode={mode}")
    _assert_unreachable(failed, project, mode)

    _serve(server, project)
    monkeypatch.setenv("FAKE_TASK_URL", server.base_url)
    recorded = project.run(*_command_args(failed.case("net/violin")["harness_error"])[:3])
    assert recorded.ret == 0, recorded.text
    assert recorded.json["verdict"] == "pass" and recorded.json["harness_errors"] == []
    assert recorded.scores("net/violin") == {"name": 1, "kind": 1}
    assert recorded.scores("net/guitar") == {"name": 1, "kind": 1}
    assert len(server.requests) == len(NET)


def test_dns_failure_while_recording_is_a_harness_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host name that cannot resolve (`.invalid` never does) is the same harness error."""
    project = _project(pytester)
    monkeypatch.setenv("FAKE_TASK_URL", "http://listingeval-no-such-host.invalid/v1")
    run = project.run("-m", "eval", "--record-mode=once")
    _assert_unreachable(run, project, "once")


def test_unreachable_then_recorded_then_replayed(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, runner: tuple[str, ...]
) -> None:
    """Serially, in threads and in xdist workers: no cassette after the failure, a real one after recording."""
    project = _project(pytester)
    monkeypatch.setenv("FAKE_TASK_URL", unreachable_base_url())
    failed = project.run("-m", "eval", "--record-mode=once", *runner)
    _assert_unreachable(failed, project, "once")

    _serve(server, project)
    monkeypatch.setenv("FAKE_TASK_URL", server.base_url)
    recorded = project.run("-m", "eval", "--record-mode=once", *runner)
    assert recorded.ret == 0, recorded.text
    assert recorded.json["harness_errors"] == []
    assert len(server.requests) == len(NET)
    for case_id, answer in NET.items():
        assert recorded.scores(case_id) == {"name": 1, "kind": 1}
        data = read_cassette(project.cassette(case_id))
        assert len(data["interactions"]) == 1
        assert "metadata" not in data
        text = project.cassette(case_id).read_text(encoding="utf-8")
        assert answer["name"] in text and "base64," not in text and "bearer" not in text.lower()
    _assert_refused_case_scored(recorded, project)

    server.stop()  # the answers can only come from the cassettes now
    replayed = project.run("-m", "eval", *runner)
    assert replayed.ret == 0, replayed.text
    assert [c["fields"] for c in replayed.json["cases"]] == [c["fields"] for c in recorded.json["cases"]]


def _legacy_project(pytester: pytest.Pytester) -> GenericProject:
    """The three cases, each with the unmarked empty cassette an older recording left behind."""
    project = _project(pytester)
    for case_id in (*NET, REFUSED):
        project.write_empty_cassette(case_id, legacy=True)
    return project


def test_unmarked_empty_cassette_is_missing_on_replay(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, runner: tuple[str, ...]
) -> None:
    """`interactions: []` without the marker is no recording: missing, with the record command."""
    project = _legacy_project(pytester)
    monkeypatch.setenv("FAKE_TASK_URL", server.base_url)
    run = project.run("-m", "eval", *runner)
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text
    assert run.json["verdict"] == "error"
    assert server.requests == []
    for case_id in (*NET, REFUSED):
        message = run.case(case_id)["harness_error"]
        shown = f"cassettes/eval/fake-model/{project.prompt_id}/{case_id}.yaml"
        assert message is not None and message.startswith(f"missing cassette {shown} "), message
        assert _command_args(message)[:3] == ["-m", "eval", "--record-mode=once"], message
        run.result.stdout.fnmatch_lines([f"*{case_id}: missing cassette {shown}*"])


def test_unmarked_empty_cassette_is_recorded_under_once(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, runner: tuple[str, ...]
) -> None:
    """--record-mode=once treats an unmarked empty cassette as absent: it records, then replays."""
    project = _legacy_project(pytester)
    _serve(server, project)
    monkeypatch.setenv("FAKE_TASK_URL", server.base_url)
    recorded = project.run("-m", "eval", "--record-mode=once", *runner)
    assert recorded.ret == 0, recorded.text
    assert recorded.json["harness_errors"] == []
    assert len(server.requests) == len(NET)
    for case_id in NET:
        assert recorded.scores(case_id) == {"name": 1, "kind": 1}
        assert len(read_cassette(project.cassette(case_id))["interactions"]) == 1
    _assert_refused_case_scored(recorded, project)

    server.stop()
    replayed = project.run("-m", "eval", *runner)
    assert replayed.ret == 0, replayed.text
    assert replayed.scores("net/guitar") == {"name": 1, "kind": 1}


def test_marked_empty_cassette_replays_a_task_without_requests(pytester: pytest.Pytester) -> None:
    """The marked form (what the harness writes for a request-free task) replays under record mode none."""
    project = GenericProject(pytester)
    project.add("plain", {"kind": "violin"}, instrument())
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.scores("plain") == {"kind": 1}
    assert read_cassette(project.cassette("plain"))["metadata"] == {NO_REQUESTS_MARKER: True}


def _cassette_texts(project: GenericProject) -> dict[str, Any]:
    root = project.path / "cassettes"
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yaml"))}


def test_a_failed_recording_leaves_existing_cassettes_alone(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """new_episodes with the API gone: recorded cassettes replay, nothing is rewritten or removed."""
    project = _project(pytester)
    _serve(server, project)
    monkeypatch.setenv("FAKE_TASK_URL", server.base_url)
    assert project.run("-m", "eval", "--record-mode=once").ret == 0
    before = _cassette_texts(project)
    assert len(before) == 3
    server.stop()
    monkeypatch.setenv("FAKE_TASK_URL", unreachable_base_url())
    again = project.run("-m", "eval", "--record-mode=new_episodes")
    assert again.ret == 0, again.text
    assert _cassette_texts(project) == before


def test_stale_cassette_is_reported_as_stale_in_every_runner(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, runner: tuple[str, ...]
) -> None:
    """A recorded cassette that lacks the request now sent is stale, in threads too (not a crash)."""
    project = _project(pytester)
    _serve(server, project)
    monkeypatch.setenv("FAKE_TASK_URL", server.base_url)
    assert project.run("-m", "eval", "--record-mode=once").ret == 0
    (project.path / "params.json").write_text('{"detail": "low"}', encoding="utf-8")
    server.stop()
    stale = project.run("-m", "eval", *runner)
    assert stale.ret == pytest.ExitCode.TESTS_FAILED, stale.text
    for case_id in NET:
        message = stale.case(case_id)["harness_error"]
        assert message is not None and message.startswith("stale cassette "), message
        assert "--record-mode=rewrite" in message
