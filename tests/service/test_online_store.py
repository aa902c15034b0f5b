"""The online worker's writes, raced on purpose: a claim is a lease, a row is marked scored once, a reservation once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from extractor.service.online import store as online
from extractor.service.online.scoring import Verdict
from extractor.service.online.settings import JudgePrice, JudgeRubric
from extractor.service.online.store import IN_FLIGHT, INTERRUPTED, Budget, Scored
from extractor.service.storage.records import Finished, Pending, Upload, utcnow
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.online_fakes import results

pytestmark = pytest.mark.service

JUDGE = JudgeRubric("description", "Says what it is.")
CHECK = Verdict("title:max_len", "title", "check", "pass", "ok")


def _rows(store: Store, count: int, status: str = "ok") -> list[str]:
    ids = []
    now = utcnow()
    for i in range(count):
        ident = f"{i:04d}" + "e" * 28
        upload = Upload(b"photo", "b" * 64, "image/png")
        store.start(Pending(ident, "u", "default", "m", "p", upload, now - timedelta(seconds=count - i)))
        if status != "pending":
            store.finish(ident, Finished(status, DEFAULT_LISTING if status == "ok" else None))  # type: ignore[arg-type]
        ids.append(ident)
    return ids


def test_a_claim_is_a_lease_on_finished_rows_oldest_first(store: Store) -> None:
    ids = _rows(store, 5)
    store.start(Pending("f" * 32, "u", "default", "m", "p", Upload(b"photo", "b" * 64, "image/png"), utcnow()))
    now = utcnow()
    first = online.claim(store.engine, 3, 60, now)
    assert [c.id for c in first] == ids[:3] and all(c.stamp == now for c in first)
    assert [c.id for c in online.claim(store.engine, 10, 60, now)] == ids[3:]  # the in-flight row is not finished
    assert online.claim(store.engine, 10, 60, now + timedelta(seconds=59)) == []
    lapsed = online.claim(store.engine, 10, 60, now + timedelta(seconds=61))
    assert [c.id for c in lapsed] == ids and online.backlog(store.engine) == 5


def test_a_row_is_marked_scored_once_and_its_results_stored_once(store: Store) -> None:
    (ident,) = _rows(store, 1)
    (row,) = online.claim(store.engine, 1, 60, utcnow())
    first = online.finish(store.engine, [Scored(row, (CHECK,))], utcnow())
    again = online.finish(store.engine, [Scored(row, (CHECK, CHECK))], utcnow())
    assert [s.row.id for s in first.scored] == [ident] and again.scored == []
    assert len(results(store)) == 1 and online.backlog(store.engine) == 0
    assert online.results_of(store.engine, ident) == [
        {"check": "title:max_len", "field": "title", "kind": "check", "result": "pass", "reason": "ok"}
    ]


def test_a_row_whose_status_changed_since_its_claim_is_left_to_score_afresh(store: Store) -> None:
    (ident,) = _rows(store, 1, status="pending")
    store.reap(utcnow() + timedelta(seconds=1), "gone")
    (row,) = online.claim(store.engine, 1, 60, utcnow())
    assert row.status == "lost"
    store.finish(ident, Finished("ok", DEFAULT_LISTING))
    assert online.finish(store.engine, [Scored(row, ())], utcnow()).scored == []
    assert [c.status for c in online.claim(store.engine, 1, 60, utcnow())] == ["ok"]


def test_reservations_respect_the_call_budget_and_never_call_twice(store: Store) -> None:
    ids = _rows(store, 3)
    rows = online.claim(store.engine, 3, 60, utcnow())
    budget = Budget(calls=2)
    taken = [online.reserve(store.engine, row, (JUDGE,), budget, utcnow()) for row in rows]
    assert [len(t.admitted) if t else None for t in taken] == [1, 1, 0]
    assert taken[2] is not None and taken[2].over_budget == (JUDGE,)
    # The row's own reservation is there: a second try (a successor replica) does not call again.
    again = online.reserve(store.engine, rows[0], (JUDGE,), Budget(calls=100), utcnow())
    assert again is None  # its claim was renewed at the first reservation, so this stamp is stale
    (fresh,) = online.claim(store.engine, 1, 0.001, utcnow() + timedelta(seconds=1))
    assert fresh.id == ids[0]
    retry = online.reserve(store.engine, fresh, (JUDGE,), Budget(calls=100), utcnow())
    assert retry is not None and retry.admitted == () and retry.over_budget == ()
    stored = {r.extraction_id: r for r in results(store)}
    assert set(stored) == set(ids[:2]) and {r.reason for r in stored.values()} == {IN_FLIGHT}
    written = online.finish(store.engine, [Scored(fresh, (CHECK,))], utcnow())
    assert written.interrupted == {"default": 1}
    assert {r.extraction_id: r.reason for r in results(store) if r.kind == "judge"}[ids[0]] == INTERRUPTED


def test_a_usd_reservation_holds_the_largest_known_cost_or_the_prior(store: Store) -> None:
    _rows(store, 3)
    rows = online.claim(store.engine, 3, 60, utcnow())
    price = JudgePrice(1000.0, 1000.0)  # $0.001 a token: the prior of 3,300 tokens reserves $3.30
    budget = Budget(usd=7.0, price=price)
    first = online.reserve(store.engine, rows[0], (JUDGE,), budget, utcnow())
    second = online.reserve(store.engine, rows[1], (JUDGE,), budget, utcnow())
    third = online.reserve(store.engine, rows[2], (JUDGE,), budget, utcnow())
    assert first is not None and first.reserved_usd == pytest.approx(3.3)
    assert (len(first.admitted), len(second.admitted), len(third.admitted)) == (1, 1, 0)  # type: ignore[union-attr]
    with store.engine.connect() as conn:
        spent = conn.execute(sa.text("SELECT sum(cost_usd) FROM online_results")).scalar_one()
    assert spent == pytest.approx(6.6) and spent <= budget.usd
