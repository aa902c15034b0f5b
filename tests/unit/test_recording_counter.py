"""The cassette wrapper that counts requests sent live and answers recorded, and what the runner makes of it."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from pydantic import BaseModel
from vcr.errors import CannotOverwriteExistingCassetteException

from pytest_listingeval.cases import load_case
from pytest_listingeval.cassettes import NO_REQUESTS_KEY, CountingCassette, use_cassette
from pytest_listingeval.concurrent import ConcurrentCassettes
from pytest_listingeval.fake_openai import FakeOpenAI, faults, unreachable_base_url
from pytest_listingeval.runner import run_case
from pytest_listingeval.settings import HarnessSettings
from pytest_listingeval.task import EvalTask, TaskDescription, TaskResult
from tests.fakes.listing import DEFAULT_LISTING
from tests.unit import photos

pytestmark = pytest.mark.unit

BODY = {"model": "m", "input": "hello"}


class StubCassette:
    """The parts of a vcrpy cassette the HTTP stubs call, with settable answers."""

    def __init__(self, playable: bool = False, write_protected: bool = False, ignored: bool = False) -> None:
        self.playable = playable
        self.write_protected = write_protected
        self.ignored = ignored
        self.appended: list[tuple[Any, Any]] = []
        self._path = "stub.yaml"

    def can_play_response_for(self, request: Any) -> bool:
        return self.playable

    def filter_request(self, request: Any) -> Any:
        return None if self.ignored else request

    def append(self, request: Any, response: Any) -> None:
        self.appended.append((request, response))

    def play_response(self, request: Any) -> str:
        return f"played {request}"

    def __len__(self) -> int:
        return 7

    def __contains__(self, request: object) -> bool:
        return request == "known"


def test_counts_each_live_request_once_and_each_answer() -> None:
    stub = StubCassette()
    counter = CountingCassette(stub)
    first, second = object(), object()
    assert not counter.can_play_response_for(first)
    # http.client's stub asks twice for one request (on connect and on getresponse)
    assert not counter.can_play_response_for(first)
    assert not counter.can_play_response_for(second)
    counter.append(second, {"status": 200})
    assert (counter.sent, counter.answered, counter.unanswered) == (2, 1, 1)
    assert stub.appended == [(second, {"status": 200})]
    counter.append(first, {"status": 200})
    assert (counter.sent, counter.answered, counter.unanswered) == (2, 2, 0)


@pytest.mark.parametrize(
    "stub",
    [StubCassette(playable=True), StubCassette(write_protected=True), StubCassette(ignored=True)],
    ids=["played", "write-protected", "ignored-host"],
)
def test_requests_that_never_go_out_are_not_counted(stub: StubCassette) -> None:
    counter = CountingCassette(stub)
    assert bool(counter.can_play_response_for(object())) is stub.playable
    assert (counter.sent, counter.answered, counter.unanswered) == (0, 0, 0)


def test_everything_else_is_the_wrapped_cassette() -> None:
    counter = CountingCassette(StubCassette(write_protected=True))
    assert counter.write_protected is True
    assert counter.play_response("r") == "played r"
    assert counter._path == "stub.yaml"
    assert len(counter) == 7
    assert "known" in counter and "other" not in counter


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(default_answer=DEFAULT_LISTING) as server:
        yield server


def _cassette(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "case.yaml"


def test_refused_connection_is_sent_but_unanswered(tmp_path: Path) -> None:
    path = _cassette(tmp_path)
    url = unreachable_base_url()
    with use_cassette(path, "once") as tape:
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{url}/responses", json=BODY)
        assert (tape.sent, tape.unanswered) == (1, 1)
    assert not path.exists()


def test_answered_request_is_recorded(tmp_path: Path, fake: FakeOpenAI) -> None:
    path = _cassette(tmp_path)
    with use_cassette(path, "once") as tape:
        assert httpx.post(f"{fake.base_url}/responses", json=BODY, headers={"authorization": "Bearer k"}).is_success
        assert (tape.sent, tape.answered, tape.unanswered) == (1, 1, 0)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert len(data["interactions"]) == 1 and "metadata" not in data
    assert "bearer" not in path.read_text(encoding="utf-8").lower()


def test_dropped_then_retried_counts_one_unanswered_of_two(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.enqueue(faults.drop())
    with use_cassette(_cassette(tmp_path), "once") as tape:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{fake.base_url}/responses", json=BODY, headers={"authorization": "Bearer k"})
        assert httpx.post(f"{fake.base_url}/responses", json=BODY, headers={"authorization": "Bearer k"}).is_success
        assert (tape.sent, tape.answered, tape.unanswered) == (2, 1, 1)


def test_replayed_and_refused_requests_are_not_sent(tmp_path: Path, fake: FakeOpenAI) -> None:
    path = _cassette(tmp_path)
    with use_cassette(path, "once"):
        httpx.post(f"{fake.base_url}/responses", json=BODY, headers={"authorization": "Bearer k"})
    fake.stop()
    with use_cassette(path, "none") as tape:
        assert httpx.post(f"{fake.base_url}/responses", json=BODY).is_success
        with pytest.raises(CannotOverwriteExistingCassetteException):
            httpx.post(f"{fake.base_url}/responses", json={"other": 1})
        assert (tape.sent, tape.answered, tape.unanswered) == (0, 0, 0)


def test_http_client_requests_are_counted_once(tmp_path: Path, fake: FakeOpenAI) -> None:
    path = _cassette(tmp_path)
    request = urllib.request.Request(
        f"{fake.base_url}/responses", data=b'{"input": "x"}', headers={"authorization": "Bearer k"}, method="POST"
    )
    with use_cassette(path, "once") as tape:
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
        assert (tape.sent, tape.answered, tape.unanswered) == (1, 1, 0)


def test_block_without_requests_writes_the_marked_cassette(tmp_path: Path) -> None:
    path = _cassette(tmp_path)
    with use_cassette(path, "once") as tape:
        assert tape.sent == 0
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data == {"interactions": [], "metadata": {NO_REQUESTS_KEY: True}, "version": 1}
    with use_cassette(path, "none") as replay:
        assert replay.replayable


@pytest.mark.parametrize(
    ("text", "replayable"),
    [
        ("interactions: []\nversion: 1\n", False),
        ("", False),
        (f"interactions: []\nmetadata:\n  {NO_REQUESTS_KEY}: true\nversion: 1\n", True),
    ],
    ids=["unmarked-empty", "blank", "marked-empty"],
)
def test_only_a_marked_empty_cassette_is_replayable(tmp_path: Path, text: str, replayable: bool) -> None:
    path = _cassette(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with use_cassette(path, "none") as tape:
        assert tape.replayable is replayable
    assert path.read_text(encoding="utf-8") == text  # replay never writes


def test_threads_count_into_their_own_cassettes(tmp_path: Path, fake: FakeOpenAI) -> None:
    cassettes = ConcurrentCassettes("once")
    counts: dict[str, tuple[int, int]] = {}
    url = {"dead": unreachable_base_url(), "live": fake.base_url}

    def work(name: str) -> None:
        with cassettes.use(tmp_path / f"{name}.yaml", "once") as tape:
            try:
                httpx.post(f"{url[name]}/responses", json=BODY, headers={"authorization": "Bearer k"})
            except httpx.ConnectError:
                tape.discard()
            counts[name] = (tape.sent, tape.unanswered)

    with cassettes.patched():
        threads = [threading.Thread(target=work, args=(name,)) for name in url]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert counts == {"dead": (1, 1), "live": (1, 0)}
    assert not (tmp_path / "dead.yaml").exists()
    assert len(yaml.safe_load((tmp_path / "live.yaml").read_text(encoding="utf-8"))["interactions"]) == 1


# -- what run_case makes of the counts, for any task ------------------------------------------------


class Answer(BaseModel):
    """The output of the tiny task below."""

    name: str


class HttpTask:
    """A task that posts to each URL in turn until one answers (its own retry policy)."""

    output_model = Answer

    def __init__(self, urls: list[str], swallow: bool = True, error_on_4xx: bool = False) -> None:
        self.urls = urls
        self.swallow = swallow
        self.error_on_4xx = error_on_4xx

    def describe(self, model: str, prompt: str) -> TaskDescription:
        return TaskDescription(model, prompt, "p-1", "text", "s-1", {})

    def readiness_problem(self, recording: bool) -> str | None:
        return None

    def run(self, image: Path, model: str, prompt: str) -> TaskResult:
        last = "no url"
        for url in self.urls:
            try:
                reply = httpx.post(f"{url}/responses", json=BODY, headers={"authorization": "Bearer k"}, timeout=5)
            except httpx.TransportError as exc:
                if not self.swallow:
                    raise
                last = f"transport: {exc}"
                continue
            if reply.status_code >= 400:
                return TaskResult(output=None, error={"type": "api_error", "message": f"status {reply.status_code}"})
            return TaskResult(output={"name": "violin"})
        return TaskResult(output=None, error={"type": "api_error", "message": last})


def _settings(root: Path, record_mode: str) -> HarnessSettings:
    return HarnessSettings(
        root=root,
        invocation_dir=root,
        node_root=root,
        task="tiny:task",
        model="m",
        prompt="p",
        cases_root=root / "cases",
        cassettes_root=root / "cassettes",
        baseline_path=root / "baseline.json",
        record_mode=record_mode,
        tolerance_points=0.0,
        gate_mode="strict",
        alpha=0.05,
        baseline_ref=None,
        update_baseline=False,
        json_path=None,
        report_path=None,
        markdown_path=None,
        report_url=None,
        runs_dir=None,
    )


def _run(tmp_path: Path, task: HttpTask, record_mode: str = "once") -> tuple[Any, Path]:
    cases = tmp_path / "cases"
    cases.mkdir(exist_ok=True)
    (cases / "violin.jpg").write_bytes(photos.jpeg_bytes())
    (cases / "violin.yaml").write_text('image: violin.jpg\nexpected: {name: "violin"}\n', encoding="utf-8")
    case = load_case(cases / "violin.yaml", cases, Answer)
    settings = _settings(tmp_path, record_mode)
    # HttpTask takes the image-only `run(image, ...)` form, which EvalTask's signature cannot state.
    result = run_case(settings, cast(EvalTask, task), task.describe("m", "p"), case)
    return result, tmp_path / "cassettes" / "eval" / "m" / "p-1" / "violin.yaml"


def test_error_after_unanswered_requests_is_a_harness_error(tmp_path: Path) -> None:
    result, cassette = _run(tmp_path, HttpTask([unreachable_base_url(), unreachable_base_url()]))
    assert result.harness_error is not None
    assert result.harness_error.startswith("the API could not be reached while recording: 2 requests got no answer")
    assert "(the task said: transport: " in result.harness_error
    assert "--record-mode=once" in result.harness_error
    assert result.error == {"type": "harness_error", "message": result.harness_error}
    assert not cassette.exists()


def test_task_raising_after_an_unanswered_request_is_a_harness_error(tmp_path: Path) -> None:
    result, cassette = _run(tmp_path, HttpTask([unreachable_base_url()], swallow=False))
    assert result.harness_error is not None
    assert result.harness_error.startswith("the API could not be reached while recording: 1 request got no answer")
    assert "ConnectError" in result.harness_error
    assert not cassette.exists()


def test_answer_on_a_retry_is_scored(tmp_path: Path, fake: FakeOpenAI) -> None:
    result, cassette = _run(tmp_path, HttpTask([unreachable_base_url(), fake.base_url]))
    assert result.harness_error is None and result.error is None
    assert result.fields["name"].score == 1
    assert len(yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"]) == 1


def test_answered_api_error_is_the_task_outcome(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.enqueue(faults.bad_request())
    result, cassette = _run(tmp_path, HttpTask([fake.base_url]))
    assert result.harness_error is None
    assert result.error == {"type": "api_error", "message": "status 400"}
    assert result.fields["name"].score == 0
    assert len(yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"]) == 1


def test_error_without_any_request_is_the_task_outcome_with_a_marked_cassette(tmp_path: Path) -> None:
    result, cassette = _run(tmp_path, HttpTask([]))
    assert result.harness_error is None
    assert result.error == {"type": "api_error", "message": "no url"}
    assert yaml.safe_load(cassette.read_text(encoding="utf-8"))["metadata"] == {NO_REQUESTS_KEY: True}


def test_unmarked_empty_cassette_is_missing_under_none(tmp_path: Path) -> None:
    cassette = tmp_path / "cassettes" / "eval" / "m" / "p-1" / "violin.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    result, _ = _run(tmp_path, HttpTask([]), record_mode="none")
    assert result.harness_error is not None
    assert result.harness_error.startswith("missing cassette cassettes/eval/m/p-1/violin.yaml ")
    assert "--record-mode=once" in result.harness_error
