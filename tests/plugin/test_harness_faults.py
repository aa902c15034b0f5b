"""API faults through the real extractor task and the fake OpenAI server, recorded then replayed.

The inner runs are subprocesses: the extractor task is a module-level singleton that caches
its settings and SDK client, so an in-process run would reuse another test's base URL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extractor.images import prepare_image
from pytest_listingeval.fake_openai import FakeOpenAI, RecordedRequest, faults, unreachable_base_url
from pytest_listingeval.fake_openai.faults import Fault
from tests.plugin.harness_support import Project, Run, png_bytes, read_cassette

KEY = "sk-harness-test-not-real"
FAST_RETRIES = "attempts = 4\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.05\ntimeout_s = 10"


class ExtractorProject(Project):
    """A project whose task is the real extractor (`extractor.eval:task`)."""

    task_spec = "extractor.eval:task"

    def write_pyproject(self, **overrides: Any) -> None:
        """The extractor's packaged `default` prompt; tiny backoffs for the retry tests."""
        super().write_pyproject(prompt="default", **overrides)


def listing(title: str, category: str = "musical_instruments", color: str = "brown") -> dict[str, Any]:
    """A valid Listing answer."""
    return {
        "title": title,
        "description": f"A {title.lower()}.",
        "category": category,
        "color": color,
        "brand": None,
        "condition": "used",
    }


# case id -> faults served before the listing (empty: the listing at once), or a final fault
RETRIED: dict[str, list[Fault]] = {
    "ok": [],
    "retry/429": [faults.rate_limited(retry_after_s=0.01)],
    "retry/500": [faults.server_error(500)],
    "retry/503": [faults.server_error(503), faults.server_error(503)],
    "retry/drop": [faults.drop()],
}
FINAL: dict[str, tuple[Fault, str, str | None]] = {
    "fail/refusal": (faults.refusal(), "refusal", None),
    "fail/incomplete": (faults.incomplete(), "incomplete", "max_output_tokens"),
    "fail/invalid-json": (faults.invalid_json(), "invalid_output", None),
    "fail/400": (faults.bad_request("invalid_value", "bad image", "input"), "api_error", "invalid_value"),
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The fake server, with the SDK's own variables pointing at it."""
    with FakeOpenAI() as server:
        server.answer_with(None)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "LISTINGEVAL_MODEL", "LISTINGEVAL_PROMPT"):
            monkeypatch.delenv(name, raising=False)
        yield server


def _plan(project: ExtractorProject, fake: FakeOpenAI) -> None:
    """Write the cases and program the server per image: faults first, then the listing."""
    plans: dict[str, deque[Any]] = {}
    for seed, case_id in enumerate([*RETRIED, *FINAL], start=1):
        raw = png_bytes(seed, size=32)
        project.write_case(
            case_id, {"title": {"contains_all": [f"item {seed}"]}, "category": "musical_instruments"}, image=raw
        )
        sha = prepare_image(raw).sha256
        if case_id in RETRIED:
            plans[sha] = deque([*RETRIED[case_id], listing(f"Item {seed}")])
        else:
            plans[sha] = deque([FINAL[case_id][0]])

    def choose(request: RecordedRequest) -> Any:
        for sha in request.image_sha256:
            queue = plans.get(sha)
            if queue:
                return queue.popleft() if len(queue) > 1 else queue[0]
        return None

    fake.answer_using(choose)


def _check_results(run: Run) -> None:
    ids = [c["id"] for c in run.json["cases"]]
    assert ids == sorted([*RETRIED, *FINAL]), ids
    for case_id in RETRIED:
        case = run.case(case_id)
        assert case["error"] is None, (case_id, case["error"])
        assert run.scores(case_id) == {"title": 1, "category": 1}, case_id
    for case_id, (_, kind, code) in FINAL.items():
        case = run.case(case_id)
        assert case["error"] is not None and case["error"]["type"] == kind, (case_id, case["error"])
        if code:
            assert case["error"].get("code") == code, case["error"]
        assert case["output"] is None
        assert run.scores(case_id) == {"title": 0, "category": 0}
    summary = run.json["summary"]
    assert summary["cases"] == len(RETRIED) + len(FINAL)
    assert summary["errors"] == len(FINAL)
    assert summary["overall"] == pytest.approx(len(RETRIED) / (len(RETRIED) + len(FINAL)), abs=1e-6)


def test_faults_recorded_then_replayed(
    pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retried faults end in success, final ones in typed errors; the replay gives the same JSON."""
    project = ExtractorProject(pytester, extra_settings=FAST_RETRIES)
    _plan(project, fake)

    recorded = project.run("-m", "eval", "--record-mode=once", subprocess=True, json_name="recorded.json")
    _check_results(recorded)
    # Extraction failures are scored as misses, not harness errors: no gate without a baseline.
    assert recorded.json["verdict"] == "pass" and recorded.json["harness_errors"] == []
    assert recorded.ret == 0, recorded.text
    # 5 successes + 1 (429) + 1 (500) + 2 (503) + 1 (drop) retries + 4 final faults (not retried)
    assert len(fake.requests) == 5 + 5 + 4

    cassettes = sorted((project.path / "cassettes" / "eval" / "fake-model").rglob("*.yaml"))
    assert len(cassettes) == len(RETRIED) + len(FINAL)
    for path in cassettes:
        text = path.read_text(encoding="utf-8")
        assert KEY not in text and "authorization" not in text.lower(), path
        assert "base64," not in text, path

    fake.stop()
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    replayed = project.run("-m", "eval", subprocess=True, json_name="replayed.json")
    assert replayed.ret == 0, replayed.text
    _check_results(replayed)
    assert _stable(replayed.json) == _stable(recorded.json)


def test_recording_without_a_key_is_refused(
    pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--record-mode=once with no OPENAI_API_KEY: a usage error before any case runs."""
    project = ExtractorProject(pytester, extra_settings=FAST_RETRIES)
    _plan(project, fake)
    monkeypatch.delenv("OPENAI_API_KEY")
    run = project.run("-m", "eval", "--record-mode=once")  # in-process: stops before the task runs
    assert run.ret != 0
    assert "set OPENAI_API_KEY" in run.text
    assert fake.requests == []
    assert not (project.path / "cassettes").exists() or not list(Path(project.path / "cassettes").rglob("*.yaml"))


UNREACHABLE = "the API could not be reached while recording"
UNREACHABLE_CASES = {"net/violin": "Violin", "net/drum": "Drum"}


def _unreachable_project(pytester: pytest.Pytester, fake: FakeOpenAI, settings: str) -> ExtractorProject:
    """Two cases with no cassette; the fake server knows their listings (for the second recording)."""
    project = ExtractorProject(pytester, extra_settings=settings)
    for seed, (case_id, title) in enumerate(UNREACHABLE_CASES.items(), start=40):
        raw = png_bytes(seed, size=32)
        project.write_case(case_id, {"title": {"contains_all": [title]}, "category": "musical_instruments"}, image=raw)
        fake.answer_image(prepare_image(raw).sha256, listing(title))
    return project


def _cassettes(project: Project) -> list[Path]:
    root = project.path / "cassettes"
    return sorted(root.rglob("*.yaml")) if root.exists() else []


def _assert_unreachable(run: Run, project: Project, answerless: int, task_message: str) -> None:
    """Each case is a harness error naming the failure, no case is scored as a model answer, no cassette."""
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text
    assert run.json["verdict"] == "error"
    outcomes = run.result.parseoutcomes()
    assert outcomes.get("failed") == len(UNREACHABLE_CASES) and "mismatch" not in outcomes, outcomes
    for case_id in UNREACHABLE_CASES:
        case = run.case(case_id)
        assert case["error"]["type"] == "harness_error", case["error"]
        message = case["harness_error"]
        assert message.startswith(f"{UNREACHABLE}: {answerless} requests got no answer"), message
        assert task_message in message, message
        assert "--record-mode=once" in message and message.endswith(f" cases/{case_id}.yaml"), message
        assert f"{case_id}: {message}" in run.json["harness_errors"]
        run.result.stdout.fnmatch_lines([f"*{case_id}: {UNREACHABLE}: {answerless} requests got no answer*"])
    assert "Traceback" not in run.text
    assert _cassettes(project) == []


@pytest.mark.parametrize("runner", [(), ("--eval-concurrency", "4")], ids=["serial", "threads"])
def test_connection_refused_while_recording_is_a_harness_error(
    pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, runner: tuple[str, ...]
) -> None:
    """The extractor returns APIConnectionError as its result: still a harness error, no cassette; then it records."""
    project = _unreachable_project(pytester, fake, FAST_RETRIES)
    monkeypatch.setenv("OPENAI_BASE_URL", unreachable_base_url())
    failed = project.run("-m", "eval", "--record-mode=once", *runner, subprocess=True, json_name="failed.json")
    # four attempts (FAST_RETRIES), each refused
    _assert_unreachable(failed, project, 4, "APIConnectionError: Connection error.")
    assert fake.requests == []

    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    recorded = project.run("-m", "eval", "--record-mode=once", *runner, subprocess=True, json_name="recorded.json")
    assert recorded.ret == 0, recorded.text
    assert recorded.json["harness_errors"] == [] and recorded.json["summary"]["errors"] == 0
    assert len(fake.requests) == len(UNREACHABLE_CASES)
    cassettes = _cassettes(project)
    assert len(cassettes) == len(UNREACHABLE_CASES)
    for path in cassettes:
        assert len(read_cassette(path)["interactions"]) == 1, path
        text = path.read_text(encoding="utf-8")
        assert KEY not in text and "authorization" not in text.lower() and "base64," not in text, path

    fake.stop()
    monkeypatch.setenv("OPENAI_BASE_URL", unreachable_base_url())
    replayed = project.run("-m", "eval", subprocess=True, json_name="replayed.json")
    assert replayed.ret == 0, replayed.text
    for case_id in UNREACHABLE_CASES:
        assert replayed.scores(case_id) == {"title": 1, "category": 1}


def test_timeout_after_retries_while_recording_is_a_harness_error(pytester: pytest.Pytester, fake: FakeOpenAI) -> None:
    """A server that takes every request and never answers in time: the same harness error."""
    settings = "attempts = 2\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.05\ntimeout_s = 0.5"
    project = _unreachable_project(pytester, fake, settings)
    fake.enqueue(*[faults.stall(60)] * (2 * len(UNREACHABLE_CASES)))
    run = project.run("-m", "eval", "--record-mode=once", subprocess=True)
    _assert_unreachable(run, project, 2, "timed out")
    assert len(fake.requests) == 2 * len(UNREACHABLE_CASES)


def _stable(data: dict[str, Any]) -> dict[str, Any]:
    """What must not change between recording and replay: everything but timings."""
    cases = [{k: v for k, v in c.items() if k != "latency_ms"} for c in data["cases"]]
    summary = {k: v for k, v in data["summary"].items() if k not in ("duration_s", "latency_ms")}
    return {
        "config": {k: v for k, v in data["config"].items() if not k.startswith("git_")},
        "summary": summary,
        "cases": cases,
        "verdict": data["verdict"],
    }
