"""Rollout records and events as frozen values, and the errors a rollout command can meet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any, Literal

from extractor.service.storage.records import as_utc

State = Literal["none", "running", "halted", "shipped"]
EventKind = Literal["start", "advance", "halt", "auto_halt", "ship", "shadow"]
DEFAULT_STEPS: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 100.0)


class RolloutError(Exception):
    """A rollout command that cannot be carried out now (the message says why, in one line)."""


@dataclass(frozen=True)
class Rollout:
    """One rollout of a candidate against a control."""

    id: str
    candidate: str
    control: str
    steps: tuple[float, ...]
    step_index: int
    state: State
    min_requests: int | None
    min_hours: float | None
    started_at: datetime
    step_started_at: datetime
    ended_at: datetime | None

    @property
    def step_percent(self) -> float:
        """The candidate's share of the control's users now, in percent (0 once halted)."""
        return 0.0 if self.state == "halted" else self.steps[self.step_index]

    @property
    def is_last_step(self) -> bool:
        """Whether the rollout is at its final step."""
        return self.step_index == len(self.steps) - 1

    @classmethod
    def from_row(cls, row: Any) -> Rollout:
        """A rollout from its table row."""
        return cls(
            id=row.id,
            candidate=row.candidate,
            control=row.control,
            steps=tuple(float(s) for s in row.steps),
            step_index=row.step_index,
            state=row.state,
            min_requests=row.min_requests,
            min_hours=row.min_hours,
            started_at=as_utc(row.started_at),
            step_started_at=as_utc(row.step_started_at),
            ended_at=as_utc(row.ended_at) if row.ended_at is not None else None,
        )


@dataclass(frozen=True)
class Event:
    """One change: who made it, when, why, and the step it left the rollout at."""

    at: datetime
    kind: EventKind
    by: str
    why: str
    step_percent: float | None = None
    rollout_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's form: at (ISO 8601), kind, by, why."""
        return {
            "at": as_utc(self.at).isoformat(),
            "kind": self.kind,
            "by": self.by,
            "why": self.why,
            "step_percent": self.step_percent,
        }


def parse_steps(text: str) -> tuple[float, ...]:
    """`1,5,25,50,100` as increasing percentages ending at 100 (RolloutError otherwise)."""
    try:
        steps = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise RolloutError(f"--steps must be numbers separated by commas, not {text!r}") from None
    if not steps or any(not 0 < s <= 100 for s in steps):
        raise RolloutError(f"--steps must be percentages in (0, 100], not {text!r}")
    if any(b <= a for a, b in pairwise(steps)):
        raise RolloutError(f"--steps must increase, not {text!r}")
    if steps[-1] != 100:
        raise RolloutError(f"--steps must end at 100 (the candidate serves every control user), not {text!r}")
    return steps
