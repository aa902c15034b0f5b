"""`listingeval db upgrade` and `listingeval serve` as a person runs them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from extractor.cli import main
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.fakes.tcp_proxy import TcpProxy
from tests.service.conftest import DEFAULT_PG_URL, PG_URL_ENV, png
from tests.service.processes import free_port, serve, stop

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


def test_serve_needs_an_api_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["serve"]) == 2
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err


def test_serve_starts_migrates_and_answers(tmp_path: Path, fake_openai_env: FakeOpenAI) -> None:
    port = free_port()
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


def test_serve_logs_one_json_line_per_request_and_never_the_token(tmp_path: Path, fake_openai_env: FakeOpenAI) -> None:
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "LISTINGEVAL_ADMIN_TOKEN": token}
    process, base = serve(tmp_path, env, "--log-format", "json")
    try:
        auth = {"Authorization": f"Bearer {token}"}
        files = {"image": ("a.png", png(), "image/png")}
        responses = [
            httpx.get(f"{base}/healthz", headers={"X-Request-Id": "from-the-caller-1"}),
            httpx.get(f"{base}/metrics", headers=auth),
            httpx.get(f"{base}/dashboard?token={token}"),
            httpx.get(f"{base}/dashboard", headers={"Accept": "text/html"}),
            httpx.post(f"{base}/login", data={"token": token, "next": "/dashboard"}),
            httpx.post(f"{base}/login", data={"token": "wrong", "next": "/dashboard"}),
            httpx.post(f"{base}/v1/extractions", files=files, timeout=30),
            httpx.get(f"{base}/no/such/page", headers={"Cookie": f"listingeval_session={token}"}),
        ]
    finally:
        output = stop(process)
    assert [r.status_code for r in responses] == [200, 200, 400, 303, 303, 401, 200, 404]
    assert "Secure" in responses[4].headers["set-cookie"]  # no --allow-plain-http
    assert token not in output
    lines = [line for line in output.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line of output is one JSON object
    access = [e for e in entries if e["logger"] == "extractor.service.access"]
    ids = [r.headers["x-request-id"] for r in responses]
    assert ids[0] == "from-the-caller-1"
    assert [e["request_id"] for e in access][-len(ids) :] == ids  # the first startup probe is the one before
    assert len(access) == len(ids) + 1
    for entry, response in zip(access[1:], responses, strict=True):
        assert entry["status"] == response.status_code
        assert {"method", "route", "path", "latency_ms", "ts", "level"} <= set(entry)
    assert access[7]["route"] == "/v1/extractions" and access[5]["route"] == "/login"
    assert access[3]["route"] is None and access[3]["path"] == "/dashboard"  # refused before routing
    assert any(e["logger"].startswith("uvicorn") for e in entries)  # uvicorn's own lines, same format
    assert not any("uvicorn.access" in e["logger"] for e in entries)  # its access log is ours


def test_serve_text_format(tmp_path: Path, fake_openai_env: FakeOpenAI) -> None:
    env = {**os.environ, "LISTINGEVAL_ADMIN_TOKEN": secrets.token_urlsafe(24)}
    process, base = serve(tmp_path, env, "--log-format", "text", "--allow-plain-http")
    try:
        login = httpx.post(f"{base}/login", data={"token": env["LISTINGEVAL_ADMIN_TOKEN"], "next": "/"})
    finally:
        output = stop(process)
    assert login.status_code == 303 and "Secure" not in login.headers["set-cookie"]
    access = [line for line in output.splitlines() if " extractor.service.access " in line]
    assert len(access) == 2 and 'route="/login"' in access[1] and "status=303" in access[1]
    assert env["LISTINGEVAL_ADMIN_TOKEN"] not in output
    assert "session cookies are sent over plain http" in output


def test_serve_logs_no_model_call_lines_and_no_credentials_of_the_base_url(
    tmp_path: Path, fake_openai_env: FakeOpenAI
) -> None:
    # The OpenAI SDK's HTTP client (httpx2) logs every call at INFO with its full address: a second
    # line per request, holding the password of an OPENAI_BASE_URL like http://user:password@gateway/v1.
    password = secrets.token_urlsafe(12)
    base_url = fake_openai_env.base_url.replace("http://", f"http://gateway-user:{password}@")
    env = {**os.environ, "OPENAI_BASE_URL": base_url, "LISTINGEVAL_ADMIN_TOKEN": secrets.token_urlsafe(24)}
    process, base = serve(tmp_path, env, "--log-format", "json")
    try:
        files = {"image": ("a.png", png(), "image/png")}
        created = httpx.post(f"{base}/v1/extractions", files=files, timeout=30)
    finally:
        output = stop(process)
    assert len(fake_openai_env.requests) == 1, created.text  # the model was called
    assert password not in output
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert not [e for e in entries if e["logger"].startswith(("httpx", "httpcore"))]
    served = [e for e in entries if e.get("request_id") == created.headers["x-request-id"]]
    assert [e["logger"] for e in served] == ["extractor.service.access"]


UNREACHABLE_DB = "postgresql+psycopg://postgres:pg-s3cret@127.0.0.1:1/nowhere"


def test_serve_with_the_database_down_retries_then_says_so_in_one_log_line(
    tmp_path: Path, fake_openai_env: FakeOpenAI
) -> None:
    # It used to end in a bare 100-line traceback on stderr, outside the log format.
    port = str(free_port())
    command = [
        sys.executable,
        "-m",
        "extractor.cli",
        "serve",
        "--port",
        port,
        "--db",
        UNREACHABLE_DB,
        "--wait-for-db",
        "2",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and time.monotonic() - started < 20
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]  # every line is JSON
    errors = [e for e in lines if e["level"] == "error"]
    assert len(errors) == 1 and "could not be migrated" in errors[0]["message"], done.stderr
    assert "OperationalError" in errors[0]["message"] and "pg-s3cret" not in done.stderr
    retries = [e for e in lines if "cannot be reached yet" in e["message"]]
    assert 1 <= len(retries) <= 3 and all(e["level"] == "warning" for e in retries), done.stderr


def test_serve_started_during_an_outage_comes_up_when_the_database_does(
    tmp_path: Path, fake_openai_env: FakeOpenAI
) -> None:
    url = sa.make_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL))
    schema = f"listingeval_cli_{secrets.token_hex(5)}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            proxied = url.set(host="127.0.0.1", port=proxy.port, query={"options": f"-csearch_path={schema}"})
            proxy.cut(8.0)  # longer than serve takes to import and reach its first connection
            started = time.monotonic()
            process, base = serve(tmp_path, dict(os.environ), "--db", proxied.render_as_string(hide_password=False))
            assert time.monotonic() - started >= 7.5  # it waited for the database
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            log = stop(process)
        assert "cannot be reached yet" in log and '"level": "error"' not in log, log
        with admin.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
            ).scalar_one()
        assert tables > 0  # migrated once it could
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_db_upgrade_with_the_database_down_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", UNREACHABLE_DB]) == 1
    err = capsys.readouterr().err
    assert err.startswith("listingeval: the database could not be migrated: OperationalError")
    assert len(err.strip().splitlines()) == 1 and "pg-s3cret" not in err
