"""`/dashboard/online`: pass rates per check and variant, judge verdicts and spend, recent failures."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from extractor.service.storage.store import Store
from tests.service.conftest import AUTH, ClientFactory, png, upload
from tests.service.online_fakes import FakeGrader, online_settings, score_all

pytestmark = pytest.mark.service


def test_the_page_shows_pass_rates_judge_verdicts_and_failures(make_client: ClientFactory, store: Store) -> None:
    client = make_client(grader=FakeGrader(passed=False), online=online_settings(judge=True, judge_daily_calls=3))
    ids = [upload(client, png((i, 2, 2))).json()["id"] for i in range(4)]
    score_all(client, store)
    page = client.get("/dashboard/online?window=1h", headers=AUTH)
    assert page.status_code == 200
    html = page.text
    assert '<a href="/dashboard/online">Online</a>' in html
    checks = html[html.index('id="online-checks"') : html.index('id="judge"')]
    row = re.search(r"<td>condition:any_of</td><td>default</td>(.*?)</tr>", checks, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[:5] == ["4", "0", "4", "0", "0.0%"]
    assert re.search(r"<td>title:max_len</td><td>default</td><td class=\"num\">4</td>", checks)
    judge = html[html.index('id="judge"') : html.index("<h2>Over time")]
    assert "Today (UTC): 3 calls of 3" in judge
    assert re.search(r"<td>description:judge</td><td>default</td><td class=\"num\">3</td>", judge)
    assert 'aria-label="results over time of condition:any_of for default"' in html
    failures = html[html.index('id="online-failures"') :]
    assert all(f'href="/dashboard/extractions/{i}"' in failures for i in ids)
    assert "fake verdict on description" in failures


def test_the_page_says_when_online_evaluation_is_off(client: TestClient) -> None:
    html = client.get("/dashboard/online", headers=AUTH).text
    assert "Online evaluation is off" in html and "No check results in this window." in html


def test_a_bad_window_is_a_400(client: TestClient) -> None:
    assert client.get("/dashboard/online?window=2y", headers=AUTH).status_code == 400
