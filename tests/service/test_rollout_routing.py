"""Ramp-safe, sticky assignment: who sees the candidate, step after step, and what shares that gives."""

from __future__ import annotations

import pytest

from extractor.service.config import ServiceConfig, Variant
from extractor.service.extraction.variants import assign
from extractor.service.rollout.routing import Routing, assign_request, shares

USERS = [f"user-{i}" for i in range(20_000)]


def config(*variants: Variant) -> ServiceConfig:
    return ServiceConfig(
        variants=variants or (Variant("control", "m1", "default", 1.0), Variant("new", "m2", "default", 0.0))
    )


def running(share: float, rollout_id: str = "r1", control: str = "control", candidate: str = "new") -> Routing:
    return Routing(rollout_id=rollout_id, candidate=candidate, control=control, share=share)


def candidates(cfg: ServiceConfig, routing: Routing) -> set[str]:
    return {u for u in USERS if assign_request(cfg, routing, u).variant.name == routing.candidate}


def test_a_user_who_saw_the_candidate_keeps_it_at_every_later_step() -> None:
    cfg = config()
    seen: set[str] = set()
    for step in (0.01, 0.05, 0.25, 0.5, 1.0):
        now = candidates(cfg, running(step))
        assert seen <= now, f"{len(seen - now)} users lost the candidate at {step:.0%}"
        seen = now
    assert seen == set(USERS)


@pytest.mark.parametrize("step", [0.01, 0.05, 0.25, 0.5])
def test_the_candidate_gets_its_step_share_of_the_controls_users(step: float) -> None:
    share = len(candidates(config(), running(step))) / len(USERS)
    # Binomial sd at 20,000 users is at most 0.35 points; 4 sd of slack.
    assert abs(share - step) < 0.014


def test_two_rollouts_draw_independently() -> None:
    cfg = config()
    first, second = candidates(cfg, running(0.5, "r1")), candidates(cfg, running(0.5, "r2"))
    overlap = len(first & second) / len(USERS)
    assert abs(overlap - 0.25) < 0.02


def test_requests_of_the_rollout_carry_its_id_and_others_none() -> None:
    cfg = config(
        Variant("a", "m1", "default", 1.0), Variant("b", "m2", "default", 1.0), Variant("new", "m3", "default", 0.0)
    )
    routing = running(0.5, control="a")
    for user in USERS[:2000]:
        got = assign_request(cfg, routing, user)
        base = assign(cfg.variants, cfg.salt, user).name
        if base == "a":
            assert got.rollout_id == "r1" and got.variant.name in ("a", "new")
        else:
            # Users of another variant are neither moved nor counted in the rollout.
            assert got.rollout_id is None and got.variant.name == "b"


def test_shares_follow_the_step_and_add_up_to_one() -> None:
    cfg = config(
        Variant("a", "m1", "default", 3.0), Variant("b", "m2", "default", 1.0), Variant("new", "m3", "default", 0.0)
    )
    assert shares(cfg, Routing()) == {"a": 0.75, "b": 0.25}
    ramped = shares(cfg, running(0.2, control="a"))
    assert ramped == {"a": 0.6, "b": 0.25, "new": 0.15}
    assert sum(ramped.values()) == pytest.approx(1.0)


def test_a_shipped_candidate_serves_the_controls_users_and_keeps_them() -> None:
    cfg = config()
    at_full = candidates(cfg, running(1.0))
    shipped = Routing(routes=Routing().shipped("control", "new"))
    assert {u for u in USERS if assign_request(cfg, shipped, u).variant.name == "new"} == at_full
    assert shares(cfg, shipped) == {"new": 1.0}
    assert assign_request(cfg, shipped, "anyone").rollout_id is None


def test_shipping_again_follows_earlier_replacements() -> None:
    once = Routing(routes=Routing().shipped("control", "new"))
    twice = Routing(routes=once.shipped("new", "newer"))
    assert twice.served_by("control") == "newer"
    assert twice.served_by("new") == "newer"


def test_routing_round_trips_through_its_stored_form() -> None:
    routing = Routing(
        routes=Routing().shipped("a", "b"),
        rollout_id="r9",
        candidate="c",
        control="b",
        share=0.25,
        shadow_variant="d",
        shadow_share=0.1,
        shadow_against="b",
    )
    assert Routing.from_json(routing.to_json()) == routing
    assert Routing.from_json(None) == Routing()


def test_a_variant_gone_from_the_catalogue_falls_back_instead_of_failing() -> None:
    only_control = config(Variant("control", "m1", "default", 1.0))
    assert assign_request(only_control, running(1.0), "u1") == assign_request(only_control, Routing(), "u1")
    shipped = Routing(routes=Routing().shipped("control", "new"))
    assert assign_request(only_control, shipped, "u1").variant.name == "control"
