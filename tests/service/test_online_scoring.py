"""Scoring one output against the online checks, and the judge's deterministic sampling draw."""

from __future__ import annotations

import uuid

import pytest

from extractor.service.online.scoring import judge_sampled, score
from extractor.service.online.settings import OnlineCheck, parse_online
from pytest_listingeval.check_model import Check, CheckOutcome
from tests.fakes.listing import DEFAULT_LISTING

pytestmark = pytest.mark.service

IDS = [uuid.UUID(int=i * 7919 + 13).hex for i in range(4000)]


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.25, 0.5])
def test_the_judge_samples_its_rate_of_ids_within_two_points(rate: float) -> None:
    share = sum(judge_sampled(i, rate) for i in IDS) / len(IDS)
    assert abs(share - rate) < 0.02, share


def test_the_draw_is_fixed_per_id_and_nested_across_rates() -> None:
    assert [judge_sampled(i, 0.3) for i in IDS[:200]] == [judge_sampled(i, 0.3) for i in IDS[:200]]
    # A row sampled at a rate is sampled at every higher rate: raising the rate only adds rows.
    assert all(judge_sampled(i, 0.5) for i in IDS if judge_sampled(i, 0.1))
    assert not any(judge_sampled(i, 0.0) for i in IDS) and all(judge_sampled(i, 1.0) for i in IDS)


def test_a_missing_step_is_said_in_the_reason() -> None:
    settings = parse_online({"checks": {"brand": {"regex": "acme"}, "title": {"max_len": 3}}}, "m")
    verdicts = {v.check: v for v in score({**DEFAULT_LISTING, "brand": None}, settings.checks)}
    assert verdicts["brand:regex"].result == "fail" and verdicts["title:max_len"].result == "fail"
    assert (verdicts["title:max_len"].field, verdicts["title:max_len"].kind) == ("title", "check")
    missing = {v.check: v.reason for v in score({"title": "abc"}, settings.checks)}
    assert missing["brand:regex"].startswith("the output has no brand: ")


def test_a_check_that_raises_is_an_error_of_that_check_only() -> None:
    def broken(actual: object) -> CheckOutcome:
        raise RuntimeError("boom")

    broken_check = OnlineCheck("title:broken", "title", Check("broken", None, broken))
    checks = (broken_check, *parse_online({"checks": {"title": {"max_len": 80}}}, "m").checks)
    verdicts = score(DEFAULT_LISTING, checks)
    assert [(v.check, v.result, v.reason) for v in verdicts] == [
        ("title:broken", "error", "RuntimeError: boom"),
        ("title:max_len", "pass", verdicts[1].reason),
    ]
