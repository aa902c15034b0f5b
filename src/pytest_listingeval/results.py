"""One case's scored result: typed, frozen, and the same on xdist workers and the controller."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base of every outcome model: immutable, and tolerant of keys a newer writer added."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class CheckResult(Frozen):
    """One check applied to one value (the judge's reason is the detail of a judge check)."""

    check: str
    passed: bool
    detail: str = ""
    similarity: float | None = None


class FieldScore(Frozen):
    """One field of one case: 0 or 1 (a pass rate over repeats), the spec and what came back."""

    score: float
    expected: Any = None
    actual: Any = None
    checks: tuple[CheckResult, ...] = ()
    repeat_scores: tuple[int, ...] | None = None
    repeat_actuals: tuple[Any, ...] | None = None


class CaseResult(Frozen):
    """One case's outcome; `harness_error` set means the harness could not run it (no model answer)."""

    id: str
    fields: dict[str, FieldScore]
    error: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    repeat_outputs: tuple[dict[str, Any] | None, ...] | None = None
    latency_ms: int = 0
    usage: dict[str, int] = {}
    image: str | None = None
    tags: tuple[str, ...] = ()
    critical: tuple[str, ...] = ()
    expectations: str | None = None
    harness_error: str | None = None
    repeats: int = 1
    repeat_errors: int = 0

    @property
    def scored(self) -> bool:
        """True when the case holds a model answer (or a model failure), not a harness fault."""
        return self.harness_error is None

    @property
    def mismatched_fields(self) -> list[str]:
        """Fields whose checks did not all pass (in every repeat)."""
        return [name for name, scored in self.fields.items() if scored.score < 1]

    @property
    def critical_misses(self) -> list[str]:
        """Critical fields that did not pass (in every repeat)."""
        return [name for name in self.critical if name in self.fields and self.fields[name].score < 1]

    @property
    def flaky_fields(self) -> list[str]:
        """Fields that passed in some repeats and failed in others."""
        return [name for name, scored in self.fields.items() if 0 < scored.score < 1]

    @property
    def outputs(self) -> tuple[dict[str, Any] | None, ...]:
        """The task's output of every repeat (None where that repeat failed)."""
        if self.repeat_outputs is not None:
            return self.repeat_outputs
        return (None if self.error is not None else self.output,)

    @property
    def expected(self) -> dict[str, Any]:
        """The case's expected spec per field, as scored."""
        return {name: scored.expected for name, scored in self.fields.items()}

    def to_json(self) -> str:
        """Compact JSON: how a result travels from an xdist worker on its test report."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> CaseResult:
        """Inverse of `to_json`."""
        return cls.model_validate_json(text)
