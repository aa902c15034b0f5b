"""The `fake_openai` fixtures come with the installed plugin: a user's test needs no conftest."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

USER_TEST = """
import json
import re
import socket
from pathlib import Path
import os

import openai
from pydantic import BaseModel

from pytest_listingeval.fake_openai import faults


class Pet(BaseModel):
    name: str
    legs: int


def test_my_feature(fake_openai_env):
    fake_openai_env.answer_with({"name": "Rex", "legs": 4})
    fake_openai_env.enqueue(faults.rate_limited(retry_after_s=0))
    client = openai.OpenAI(max_retries=1)
    completion = client.chat.completions.parse(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "a dog"}], response_format=Pet
    )
    assert completion.choices[0].message.parsed == Pet(name="Rex", legs=4)
    assert len(fake_openai_env.requests) == 2  # the 429, then the retry
    seen = {name: os.environ.get(name) for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID")}
    with open("seen.json", "w") as out:
        json.dump(seen, out)
"""


def test_a_users_test_file_gets_the_fixture_without_any_conftest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a-real-looking-key")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-real")
    pytester.makepyfile(test_user=USER_TEST)
    assert not list(pytester.path.rglob("conftest.py"))
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen["OPENAI_API_KEY"] == "fake-key-not-real" and seen["OPENAI_ORG_ID"] is None
    assert seen["OPENAI_BASE_URL"].startswith("http://127.0.0.1:") and seen["OPENAI_BASE_URL"].endswith("/v1")
    port = int(seen["OPENAI_BASE_URL"].rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(ConnectionRefusedError):  # stopped after the test
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_fixtures_are_a_plugin_of_their_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_server(fake_openai):
            assert fake_openai.base_url.startswith("http://127.0.0.1:")
        """
    )
    without_harness = pytester.runpytest("-p", "no:randomly", "-p", "no:listingeval")
    without_harness.assert_outcomes(passed=1)
    without_fake = pytester.runpytest("-p", "no:randomly", "-p", "no:listingeval-fake-openai")
    without_fake.assert_outcomes(errors=1)
    without_fake.stdout.fnmatch_lines(["*fixture 'fake_openai' not found*"])
    listed = pytester.runpytest("--fixtures", "-p", "no:listingeval")
    listed.stdout.fnmatch_lines(["fake_openai -- *fake_openai?fixtures.py*", "fake_openai_env -- *"])


def test_the_documented_example_runs_as_written(pytester: pytest.Pytester) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "fake-openai.md").read_text(encoding="utf-8")
    example, override = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    pytester.makepyfile(test_pet=example)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4)
    pytester.makeconftest("import pytest\n\n" + override)
    pytester.makepyfile(
        test_default="""
        import openai

        def test_default_from_conftest(fake_openai_env):
            answer = openai.OpenAI().responses.create(model="m", input="hi")
            assert answer.output_text == '{"name": "Rex", "legs": 4}'
        """
    )
    pytester.runpytest_subprocess("-p", "no:randomly", "test_default.py").assert_outcomes(passed=1)
