"""Rollout state in the database: transitions, their events, the routing row, and races between writers."""

from __future__ import annotations

import pytest

from extractor.service.rollout.routing import Routing
from extractor.service.rollout.state import RolloutError, parse_steps
from extractor.service.rollout.store import RolloutStore
from extractor.service.storage.store import Store

STEPS = (1.0, 5.0, 25.0, 50.0, 100.0)


@pytest.fixture
def rollouts(store: Store) -> RolloutStore:
    return RolloutStore(store.engine)


def test_nothing_stored_means_no_rollout_and_catalogue_routing(rollouts: RolloutStore) -> None:
    assert rollouts.current() is None
    assert rollouts.routing() == Routing()
    assert rollouts.events() == []


def test_a_rollout_walks_its_steps_and_ships_with_an_event_each(rollouts: RolloutStore) -> None:
    rollout = rollouts.start("new", "control", STEPS, "ada", "try the new prompt", min_requests=10)
    assert (rollout.state, rollout.step_percent, rollout.min_requests) == ("running", 1.0, 10)
    assert rollouts.routing().share == pytest.approx(0.01)
    for expected in STEPS[1:]:
        rollout = rollouts.advance(rollout, "ada", "looks fine")
        assert rollout.step_percent == expected
        assert rollouts.routing().share == pytest.approx(expected / 100)
    shipped = rollouts.ship(rollout, "ada", "all good")
    assert shipped.state == "shipped" and shipped.ended_at is not None
    routing = rollouts.routing()
    assert routing.rollout_id is None and routing.served_by("control") == "new"
    kinds = [(e.kind, e.by, e.step_percent) for e in rollouts.events(rollout.id)]
    assert kinds == [("start", "ada", 1.0)] + [("advance", "ada", s) for s in STEPS[1:]] + [("ship", "ada", 100.0)]
    assert rollouts.events(rollout.id)[0].why == "try the new prompt"


def test_a_halt_sets_the_share_to_zero_and_is_recorded_as_automatic_or_not(rollouts: RolloutStore) -> None:
    rollout = rollouts.start("new", "control", STEPS, "ada", "go")
    halted = rollouts.halt(rollout, "guardrail", "error rate up", automatic=True)
    assert halted is not None and halted.state == "halted" and halted.step_percent == 0.0
    assert rollouts.routing() == Routing()
    assert rollouts.events(rollout.id)[-1].kind == "auto_halt"
    # A second replica deciding the same halt finds nothing to do, and says so without raising.
    assert rollouts.halt(rollout, "guardrail", "error rate up", automatic=True) is None
    with pytest.raises(RolloutError, match="no rollout is running"):
        rollouts.halt(rollout, "ada", "again")


def test_a_change_decided_from_stale_state_is_refused(rollouts: RolloutStore) -> None:
    rollout = rollouts.start("new", "control", STEPS, "ada", "go")
    rollouts.advance(rollout, "ada", "first")
    with pytest.raises(RolloutError, match="changed meanwhile"):
        rollouts.advance(rollout, "bob", "from the old state")
    assert rollouts.current().step_percent == 5.0  # type: ignore[union-attr]


def test_only_one_rollout_runs_at_a_time(rollouts: RolloutStore) -> None:
    rollouts.start("new", "control", STEPS, "ada", "go")
    with pytest.raises(RolloutError, match="is running"):
        rollouts.start("other", "control", STEPS, "bob", "me too")


def test_shipping_needs_the_last_step(rollouts: RolloutStore) -> None:
    rollout = rollouts.start("new", "control", STEPS, "ada", "go")
    with pytest.raises(RolloutError, match="advance it to 100 %"):
        rollouts.ship(rollout, "ada", "too soon")


def test_a_replaced_control_cannot_be_rolled_out_against(rollouts: RolloutStore) -> None:
    rollout = rollouts.start("new", "control", (100.0,), "ada", "go")
    rollouts.ship(rollout, "ada", "done")
    with pytest.raises(RolloutError, match="was replaced by new"):
        rollouts.start("newer", "control", STEPS, "ada", "next")
    assert rollouts.start("newer", "new", STEPS, "ada", "next").control == "new"


def test_the_shadow_setting_lives_beside_a_running_rollout(rollouts: RolloutStore) -> None:
    rollouts.start("new", "control", STEPS, "ada", "go")
    routing = rollouts.shadow("other", 0.1, "control", "ada", "compare")
    assert (routing.shadow_variant, routing.shadow_share, routing.rollout_id is not None) == ("other", 0.1, True)
    assert rollouts.routing().share == pytest.approx(0.01)
    stopped = rollouts.shadow(None, 0.0, None, "ada", "enough")
    assert stopped.shadow_variant is None and stopped.rollout_id is not None
    assert [e.kind for e in rollouts.events()][-2:] == ["shadow", "shadow"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1,5,x", "numbers"),
        ("0,100", r"\(0, 100\]"),
        ("5,1,100", "increase"),
        ("1,5,50", "end at 100"),
        ("", r"\(0, 100\]"),
    ],
)
def test_bad_steps_are_refused_in_one_line(text: str, error: str) -> None:
    with pytest.raises(RolloutError, match=error):
        parse_steps(text)


def test_steps_parse() -> None:
    assert parse_steps("1, 5,25,50,100") == STEPS
    assert parse_steps("100") == (100.0,)
