"""Two service processes on one database: a failing candidate is halted by itself, nothing is lost, users stay put."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from extractor.cli import main
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from pytest_listingeval.fake_openai.recorded import RecordedRequest
from tests.service.conftest import DEFAULT_PG_URL, PG_URL_ENV
from tests.service.processes import serve, stop

pytestmark = pytest.mark.service

TOKEN = "replica-test-admin-token"
PYPROJECT = """
[tool.listingeval]
model = "m-control"

[tool.listingeval.variants.control]
model = "m-control"
weight = 1

[tool.listingeval.variants.new]
model = "m-new"
weight = 0

[tool.listingeval.rollout]
check_interval_s = 0.3
min_halt_requests = 20
min_requests = 0
"""
FAIL_SHARE = 0.2


def photo(n: int) -> bytes:
    """A distinct small PNG per request, so the fake's failures are spread over requests."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (n % 256, (n // 256) % 256, 77)).save(out, format="PNG")
    return out.getvalue()


def candidate_fails(request: RecordedRequest) -> Any:
    """The candidate model fails a fixed fifth of the photos, every attempt (a 400 is not retried)."""
    if request.model != "m-new" or not request.image_sha256:
        return None
    if int(hashlib.sha256(request.image_sha256[0].encode()).hexdigest()[:8], 16) / 2**32 < FAIL_SHARE:
        return faults.bad_request("fake_candidate_failure", "the candidate failed", None)
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL the subprocesses can share (PostgreSQL: a schema of its own, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    url = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    schema = f"listingeval_replicas_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def replicas(
    tmp_path: Path, db_url: str, fake_openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """Two `listingeval serve` processes on the same database and the fake model."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER", "ada")
    env = {**os.environ, "LISTINGEVAL_ADMIN_TOKEN": TOKEN}
    started = []
    try:
        for _ in range(2):
            started.append(serve(tmp_path, env, "--db", db_url, "--log-level", "warning", output=None))
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            stop(process)


def extract(base: str, user: str, n: int) -> httpx.Response:
    files = {"image": (f"{n}.png", photo(n), "image/png")}
    return httpx.post(f"{base}/v1/extractions", files=files, headers={"X-User-Id": user}, timeout=60)


def answer(response: httpx.Response) -> dict[str, Any]:
    """The extraction's id and variant, from a listing (200) or a model failure (502)."""
    body: dict[str, Any] = response.json()
    return body if response.status_code == 200 else body["error"]


def rollout_status(db_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    import json

    capsys.readouterr()
    assert main(["rollout", "status", "--json", "--db", db_url]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def stored(db_url: str) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, status, variant FROM extractions")).all()
    finally:
        engine.dispose()
    return {row.id: (row.status, row.variant) for row in rows}


def test_a_candidate_failing_a_fifth_of_calls_is_halted_under_load_and_nothing_is_lost(
    replicas: list[str], db_url: str, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_openai_env.answer_using(candidate_fails)
    assert main(["rollout", "start", "new", "--against", "control", "--steps", "50,100", "--db", db_url]) == 0
    responses: list[httpx.Response] = []
    halted_after: int | None = None
    with ThreadPoolExecutor(8) as pool:
        for batch in range(60):
            jobs = [pool.submit(extract, replicas[i % 2], f"user-{i % 300}", batch * 16 + i) for i in range(16)]
            responses.extend(job.result() for job in jobs)
            if halted_after is None and rollout_status(db_url, capsys)["state"] == "halted":
                halted_after = len(responses)
            elif halted_after is not None and len(responses) >= halted_after + 64:
                break
    assert halted_after is not None, f"not halted after {len(responses)} requests"
    status = rollout_status(db_url, capsys)
    assert [e["kind"] for e in status["events"]] == ["start", "auto_halt"]
    assert status["events"][-1]["by"] == "guardrail" and "error_rate" in status["events"][-1]["why"]
    assert status["shares"] == {"control": 1.0}
    # After the halt every replica serves the control from its next request on.
    after = responses[halted_after + 16 :]
    assert after and {answer(r)["variant"] for r in after} == {"control"}
    # Nothing lost: every answer is a listing or the candidate's typed failure, and every one has its row.
    assert {r.status_code for r in responses} <= {200, 502}
    rows = stored(db_url)
    ids = [answer(r)["id"] for r in responses]
    assert len(set(ids)) == len(ids) and set(ids) <= set(rows)
    assert not [i for i, (status_, _) in rows.items() if status_ == "pending"]
    failures = [answer(r) for r in responses if r.status_code == 502]
    assert failures and {f["variant"] for f in failures} == {"new"}
    halts = 0.0
    for base in replicas:
        text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        line = next(x for x in text.splitlines() if x.startswith("listingeval_rollout_auto_halts_total "))
        halts += float(line.split()[1])
    assert halts == 1.0  # one replica made the halt; the other found it made


def test_users_keep_their_variant_on_both_replicas_across_steps(
    replicas: list[str], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollout", "start", "new", "--against", "control", "--steps", "10,50,100", "--db", db_url]) == 0
    users = [f"user-{i}" for i in range(120)]

    def variants(step: int) -> dict[str, str]:
        seen: dict[str, str] = {}
        with ThreadPoolExecutor(8) as pool:
            for user, got in zip(
                users,
                pool.map(lambda u: [answer(extract(b, u, step))["variant"] for b in replicas], users),
                strict=True,
            ):
                assert got[0] == got[1], f"{user} got {got[0]} from one replica and {got[1]} from the other"
                seen[user] = got[0]
        return seen

    at_10 = variants(1)
    assert main(["rollout", "advance", "--db", db_url]) == 0
    at_50 = variants(2)
    moved_10 = {u for u, v in at_10.items() if v == "new"}
    moved_50 = {u for u, v in at_50.items() if v == "new"}
    assert moved_10 and moved_10 < moved_50
    assert 0.3 < len(moved_50) / len(users) < 0.7
    assert rollout_status(db_url, capsys)["step_percent"] == 50.0
