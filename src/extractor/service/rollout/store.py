"""Rollout state in the database: each change, its event and the new routing in one transaction.

Every change is conditional on the state it was decided from (`WHERE state = 'running' AND
step_index = ...`), so two replicas (or a replica and a person) acting at once cannot both
succeed: the second finds the row changed and is told so.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, update

from extractor.service.rollout.routing import Routing
from extractor.service.rollout.state import Event, EventKind, Rollout, RolloutError
from extractor.service.storage.db import write_transaction
from extractor.service.storage.records import utcnow
from extractor.service.storage.tables import rollout_events, rollouts, routing

ROUTING_ID = 1


class RolloutStore:
    """Reads and conditional writes of rollouts, their events and the routing row."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def routing(self) -> Routing:
        """The routing every request is assigned by (one primary-key read)."""
        with self.engine.connect() as conn:
            return read_routing(conn)

    def current(self) -> Rollout | None:
        """The latest rollout, whatever its state (None before the first)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(rollouts).order_by(rollouts.c.started_at.desc()).limit(1)).first()
        return Rollout.from_row(row) if row is not None else None

    def get(self, rollout_id: str) -> Rollout | None:
        """One rollout by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
        return Rollout.from_row(row) if row is not None else None

    def events(self, rollout_id: str | None = None, limit: int = 200, with_shadow: bool = False) -> list[Event]:
        """Events of one rollout (and the shadow changes, if asked) or all; the `limit` newest, oldest first."""
        query = select(rollout_events).order_by(rollout_events.c.id.desc()).limit(limit)
        if rollout_id is not None:
            mine = rollout_events.c.rollout_id == rollout_id
            query = query.where(or_(mine, rollout_events.c.kind == "shadow") if with_shadow else mine)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Event(r.at, r.kind, r.by, r.why, r.step_percent, r.rollout_id)
            for r in reversed(rows)  # oldest first
        ]

    def start(
        self,
        candidate: str,
        control: str,
        steps: Sequence[float],
        by: str,
        why: str,
        min_requests: int | None = None,
        min_hours: float | None = None,
    ) -> Rollout:
        """Start a rollout at its first step (refused while another one runs)."""
        now = utcnow()
        rollout_id = uuid.uuid4().hex
        with write_transaction(self.engine) as conn:
            running = conn.execute(select(rollouts.c.candidate).where(rollouts.c.state == "running")).first()
            if running is not None:
                raise RolloutError(f"a rollout of {running.candidate} is running: halt or ship it first")
            current = read_routing(conn)
            if current.served_by(control) != control:
                raise RolloutError(f"{control} was replaced by {current.served_by(control)}; roll out against that")
            conn.execute(
                insert(rollouts).values(
                    id=rollout_id,
                    candidate=candidate,
                    control=control,
                    steps=list(steps),
                    step_index=0,
                    state="running",
                    min_requests=min_requests,
                    min_hours=min_hours,
                    started_at=now,
                    step_started_at=now,
                )
            )
            _event(conn, rollout_id, now, "start", by, why, steps[0])
            _set_routing(conn, _with_rollout(current, rollout_id, candidate, control, steps[0]), now)
        rollout = self.get(rollout_id)
        assert rollout is not None
        return rollout

    def advance(self, rollout: Rollout, by: str, why: str) -> Rollout:
        """Move a running rollout to its next step (refused if it changed since it was read)."""
        if rollout.is_last_step:
            raise RolloutError("the rollout is at 100 %: ship it")
        now = utcnow()
        step = rollout.steps[rollout.step_index + 1]
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(rollouts)
                .where(_unchanged(rollout))
                .values(step_index=rollout.step_index + 1, step_started_at=now)
            ).rowcount
            if changed != 1:
                raise RolloutError("the rollout changed meanwhile (halted, shipped or advanced): check its status")
            _event(conn, rollout.id, now, "advance", by, why, step)
            _set_routing(
                conn, _with_rollout(read_routing(conn), rollout.id, rollout.candidate, rollout.control, step), now
            )
        return self._reread(rollout.id)

    def halt(self, rollout: Rollout, by: str, why: str, automatic: bool = False) -> Rollout | None:
        """Stop serving the candidate; None when an automatic halt finds the rollout no longer running."""
        now = utcnow()
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout.id, rollouts.c.state == "running")
                .values(state="halted", ended_at=now)
            ).rowcount
            if changed != 1:
                if automatic:
                    return None
                raise RolloutError("no rollout is running: nothing to halt")
            _event(conn, rollout.id, now, "auto_halt" if automatic else "halt", by, why, 0.0)
            _set_routing(conn, _without_rollout(read_routing(conn)), now)
        return self._reread(rollout.id)

    def ship(self, rollout: Rollout, by: str, why: str) -> Rollout:
        """Make the candidate serve every user of the control for good."""
        if not rollout.is_last_step:
            raise RolloutError(f"the rollout is at {rollout.step_percent:g} %: advance it to 100 % before shipping")
        now = utcnow()
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(rollouts).where(_unchanged(rollout)).values(state="shipped", ended_at=now)
            ).rowcount
            if changed != 1:
                raise RolloutError("the rollout changed meanwhile (halted or shipped): check its status")
            _event(conn, rollout.id, now, "ship", by, why, 100.0)
            current = read_routing(conn)
            routes = current.shipped(rollout.control, rollout.candidate)
            _set_routing(conn, _replace(_without_rollout(current), routes=routes), now)
        return self._reread(rollout.id)

    def shadow(self, variant: str | None, share: float, against: str | None, by: str, why: str) -> Routing:
        """Start, change or (variant None) stop the shadow sample."""
        now = utcnow()
        with write_transaction(self.engine) as conn:
            current = read_routing(conn)
            changed = _replace(
                current,
                shadow_variant=variant,
                shadow_share=share if variant else 0.0,
                shadow_against=against if variant else None,
            )
            _event(conn, None, now, "shadow", by, why, share * 100 if variant else 0.0)
            _set_routing(conn, changed, now)
        return changed

    def _reread(self, rollout_id: str) -> Rollout:
        rollout = self.get(rollout_id)
        assert rollout is not None
        return rollout


def _unchanged(rollout: Rollout) -> ColumnElement[bool]:
    return and_(rollouts.c.id == rollout.id, rollouts.c.state == "running", rollouts.c.step_index == rollout.step_index)


def _event(
    conn: Connection, rollout_id: str | None, at: datetime, kind: EventKind, by: str, why: str, step: float | None
) -> None:
    conn.execute(
        insert(rollout_events).values(rollout_id=rollout_id, at=at, kind=kind, by=by, why=why, step_percent=step)
    )


def read_routing(conn: Connection) -> Routing:
    """The routing, read on `conn` (inside the caller's transaction)."""
    return Routing.from_json(conn.execute(select(routing.c.data).where(routing.c.id == ROUTING_ID)).scalar())


def _set_routing(conn: Connection, new: Routing, now: datetime) -> None:
    version = conn.execute(select(routing.c.version).where(routing.c.id == ROUTING_ID)).scalar()
    if version is None:
        conn.execute(insert(routing).values(id=ROUTING_ID, data=new.to_json(), version=1, updated_at=now))
    else:
        conn.execute(
            update(routing)
            .where(routing.c.id == ROUTING_ID)
            .values(data=new.to_json(), version=version + 1, updated_at=now)
        )


def _with_rollout(current: Routing, rollout_id: str, candidate: str, control: str, step: float) -> Routing:
    return _replace(current, rollout_id=rollout_id, candidate=candidate, control=control, share=step / 100)


def _without_rollout(current: Routing) -> Routing:
    return _replace(current, rollout_id=None, candidate=None, control=None, share=0.0)


def _replace(current: Routing, **changes: Any) -> Routing:
    return dataclasses.replace(current, **changes)
