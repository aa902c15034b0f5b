"""`listingeval db upgrade` and `listingeval serve` as a person runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from extractor.cli import main
from tests.fakes.server import FakeOpenAI
from tests.service.conftest import png

pytestmark = pytest.mark.service


def test_db_upgrade_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["db", "upgrade", "--db", url]) == 0  # idempotent
    assert "latest schema" in capsys.readouterr().out
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    engine.dispose()
    assert {"extractions", "images", "corrections", "alembic_version"} <= tables
    assert mode == "wal"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_needs_an_api_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["serve"]) == 2
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err


def test_serve_starts_migrates_and_answers(tmp_path: Path, fake_openai_env: FakeOpenAI) -> None:
    port = _free_port()
    env = {**os.environ, "LISTINGEVAL_ADMIN_TOKEN": "t0ken"}
    command = [sys.executable, "-m", "extractor.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up in 60 s"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer t0ken"})
        assert metrics.status_code == 200 and "listingeval_requests_total" in metrics.text
        files = {"image": ("a.png", png(), "image/png")}
        created = httpx.post(f"http://127.0.0.1:{port}/v1/extractions", files=files, timeout=30)
        assert created.status_code == 200, created.text
        assert len(fake_openai_env.requests) == 1
        assert (tmp_path / "listingeval.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)
