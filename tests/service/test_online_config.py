"""`[tool.listingeval.online]`: read with the case files' check parser; every mistake is one line at start-up."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from extractor.cli import main
from extractor.errors import ConfigError
from extractor.service.config import load_config
from extractor.service.online import settings as online_settings_module
from extractor.service.online.scoring import score
from extractor.service.online.settings import parse_online
from pytest_listingeval import rubric_version
from tests.fakes.listing import DEFAULT_LISTING

pytestmark = pytest.mark.service

PRICES = {"gpt-4.1-mini": {"input_per_mtok": 0.4, "output_per_mtok": 1.6}}


def _project(tmp_path: Path, online: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.listingeval]\nmodel = 'gpt-4.1-mini'\n"
        "[tool.listingeval.prices.'gpt-4.1-mini']\ninput_per_mtok = 0.4\noutput_per_mtok = 1.6\n"
        f"[tool.listingeval.online]\n{online}"
    )
    return tmp_path


def test_the_online_table_is_read_into_the_service_config(tmp_path: Path) -> None:
    online = """judge = {description = "Says what the item is."}
judge_sample = 0.1
judge_max_concurrency = 3
judge_daily_budget_usd = 2.5
judge_daily_calls = 1000
[tool.listingeval.online.checks]
title = {max_len = 80}
brand = {is_null = true}
color = {any_of = ["brown", "black"]}
description = [{regex = '\\w'}, {max_len = 600}]
"""
    settings = load_config(start=_project(tmp_path, online)).online
    assert settings.enabled
    names = ["title:max_len", "brand:null", "color:any_of", "description:regex", "description:max_len"]
    assert [c.name for c in settings.checks] == names
    assert [(j.field, j.name, j.version) for j in settings.judges] == [
        ("description", "description:judge", rubric_version("Says what the item is."))
    ]
    assert (settings.judge_sample, settings.judge_max_concurrency) == (0.1, 3)
    assert (settings.judge_daily_budget_usd, settings.judge_daily_calls) == (2.5, 1000)
    assert settings.judge_model == "gpt-4.1-mini" and settings.judge_price is not None
    verdicts = {v.check: v.result for v in score(DEFAULT_LISTING, settings.checks)}
    assert verdicts == dict.fromkeys(names, "pass")


def test_several_checks_on_one_field_each_get_a_name() -> None:
    table = {"checks": {"description": [{"regex": "guitar"}, {"max_len": 10}, {"regex": "piano"}]}}
    settings = parse_online(table, "m")
    names = [c.name for c in settings.checks]
    assert names == ["description:regex", "description:max_len", "description:regex#2"]
    verdicts = {v.check: (v.result, v.reason) for v in score(DEFAULT_LISTING, settings.checks)}
    assert verdicts["description:regex"][0] == "pass" and verdicts["description:regex#2"][0] == "fail"
    assert verdicts["description:max_len"][0] == "fail" and "characters" in verdicts["description:max_len"][1]


def test_nothing_configured_scores_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.listingeval]\nmodel = 'gpt-4.1-mini'\n")
    assert not load_config(start=tmp_path).online.enabled


def test_a_custom_check_installed_by_a_package_can_be_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def short_words(limit: Any) -> Callable[[Any], tuple[bool, str]]:
        def check(actual: Any) -> tuple[bool, str]:
            longest = max(len(w) for w in str(actual).split())
            return longest <= limit, f"the longest word has {longest} letters"

        return check

    # Outside pytest the service knows the `listingeval.checks` entry points; this stands in for one.
    monkeypatch.setattr(online_settings_module, "installed_checks", lambda: {"short_words": short_words})
    settings = parse_online({"checks": {"title": {"short_words": 5}}}, "m")
    (verdict,) = score(DEFAULT_LISTING, settings.checks)
    assert (verdict.check, verdict.result, verdict.reason) == (
        "title:short_words",
        "fail",
        "the longest word has 8 letters",
    )


BAD = [
    ("checks = 3", "checks must be a table of field = check"),
    ("checks = {titel = {max_len = 80}}", "checks.titel: unknown field 'titel'"),
    ("checks = {title = {max_length = 80}}", "checks.title: unknown check 'max_length'"),
    ("checks = {category = {any_of = ['bikes']}}", "checks.category: value 'bikes' is not allowed"),
    ("checks = {brand = {is_null = false}}", "checks.brand: write {is_null = true} alone"),
    ("checks = {description = {judge = 'fine'}}", "the judge runs on a sample under a budget"),
    ("judge = {descripton = 'x'}", "judge.descripton: unknown field 'descripton'"),
    ("judge = {description = ''}", "judge.description must be the rubric's text"),
    ("judge = {description = 'x'}", "a judge needs a daily budget"),
    ("judge = {description = 'x'}\njudge_daily_calls = -1", "judge_daily_calls must be a whole number >= 0"),
    (
        "judge = {description = 'x'}\njudge_daily_calls = 5\njudge_sample = 1.5",
        "judge_sample must be a number between 0",
    ),
    ("judge = {description = 'x'}\njudge_daily_calls = 5\njudge_max_concurrency = 0", "judge_max_concurrency must"),
    ("judge = {description = 'x'}\njudge_daily_budget_usd = 'lots'", "judge_daily_budget_usd must be a number"),
    ("judge = {description = 'x'}\njudge_daily_budget_usd = 1\njudge_model = 'gpt-5'", 'prices."gpt-5"'),
    ("judge_sample = 0.1", "judge_sample is set but no judge is configured"),
    ("check = {title = {max_len = 80}}", "unknown keys ['check']"),
    ("checks = {title = {max_len = 80}}\ninterval_s = 0", "interval_s must be a number >= 0.01"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_a_bad_line_stops_start_up_with_one_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(start=_project(tmp_path, line + "\n"))
    text = str(refused.value)
    assert text.startswith("[tool.listingeval.online]") and message in text and "\n" not in text


def test_serve_refuses_to_start_with_a_bad_online_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path, "checks = {titel = {max_len = 80}}\n"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-used")
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checks.titel: unknown field 'titel'" in err


def test_a_rubric_version_follows_its_text() -> None:
    assert rubric_version("a") == rubric_version("a") != rubric_version("a ")
    assert len(rubric_version("a")) == 12


def test_the_documented_example_is_a_valid_configuration() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "online.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block is not None
    table = tomllib.loads(block.group(1))["tool"]["listingeval"]["online"]
    settings = parse_online(table, "gpt-4.1-mini", PRICES)
    assert len(settings.checks) == 5 and [j.name for j in settings.judges] == ["description:judge"]
    assert settings.judge_daily_budget_usd == 2.0 and settings.judge_daily_calls == 2000


def test_a_plain_rubric_grades_the_description(tmp_path: Path) -> None:
    """The contract's `judge = "rubric"` is the description's rubric; the table form names any field."""
    online = "judge = 'Says what the item is.'\njudge_daily_calls = 5\n"
    settings = load_config(start=_project(tmp_path, online)).online
    assert [(j.field, j.rubric) for j in settings.judges] == [("description", "Says what the item is.")]
