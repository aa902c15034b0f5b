"""`python -m pytest_listingeval.fake_openai`: standard library only, clear errors on bad answers files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from pytest_listingeval.fake_openai.fixtures import DUMMY_API_KEY
from tests.fakes.listing import DEFAULT_LISTING
from tests.unit.conftest import ROOT

pytestmark = pytest.mark.unit

AUTH = {"authorization": f"Bearer {DUMMY_API_KEY}"}
PHOTO = b"any image bytes"


@contextmanager
def serving(args: list[str], env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start the server, yield its base URL and process, stop it with SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, *args, "--port", "0"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + (process.stderr.read() if process.stderr else "")
        yield line.split()[-1], process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def chat(base_url: str, image: bytes) -> httpx2.Response:
    url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
    return httpx2.post(f"{base_url}/chat/completions", json={"model": "m", "messages": [message]}, headers=AUTH)


def test_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({hashlib.sha256(PHOTO).hexdigest(): {"ok": True}, "default": "plain text"}))
    # -S: no site-packages at all (no openai, pydantic, Pillow or pytest); only the package source.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "src")}
    with serving(["-S", "-m", "pytest_listingeval.fake_openai", "--answers", str(answers)], env) as (url, process):
        assert json.loads(chat(url, PHOTO).json()["choices"][0]["message"]["content"]) == {"ok": True}
        assert chat(url, b"other").json()["choices"][0]["message"]["content"] == "plain text"
        responses = httpx2.post(f"{url}/responses", json={"model": "m", "input": "hi"}, headers=AUTH).json()
        assert responses["output"][0]["content"][0]["text"] == "plain text"
    assert process.returncode == 0
    assert process.stderr is not None and "served 3 requests" in process.stderr.read()


def test_project_server_answers_the_guitar_listing() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with serving(["-m", "tests.fakes"], env) as (url, _):
        answer = chat(url, PHOTO).json()["choices"][0]["message"]["content"]
    assert json.loads(answer) == DEFAULT_LISTING


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"abc": {"fault": "explode"}}', "abc: unknown fault 'explode'; known: bad_request, content_filter"),
        ('{"default": 42}', "default: an answer must be a JSON object, a string or {'fault': name}"),
    ],
)
def test_bad_answers_file_is_one_line_and_exit_2(tmp_path: Path, content: str, problem: str) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "pytest_listingeval.fake_openai", "--answers", str(answers)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"python -m pytest_listingeval.fake_openai: error: {answers}: ")
    assert problem in last and "Traceback" not in done.stderr


def test_missing_answers_file_and_busy_port_are_one_line_errors(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "pytest_listingeval.fake_openai", "--answers", str(tmp_path / "nope.json")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert missing.returncode == 2 and f"{tmp_path / 'nope.json'}: cannot read" in missing.stderr
    with serving(["-m", "pytest_listingeval.fake_openai"], dict(os.environ)) as (url, _):
        port = url.rsplit(":", 1)[1].split("/")[0]
        busy = subprocess.run(
            [sys.executable, "-m", "pytest_listingeval.fake_openai", "--port", port],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "Traceback" not in missing.stderr + busy.stderr
