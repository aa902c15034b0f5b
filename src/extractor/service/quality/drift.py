"""Drift: the current window's outputs and photos against the previous window's, or the eval set's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine

from extractor.schema import Listing
from extractor.service.quality.fields import enum_fields
from extractor.service.quality.psi import Comparison, compare, histogram, quantile_edges
from extractor.service.quality.samples import INPUTS, Sample, eval_sample, window_sample
from extractor.service.quality.settings import DriftSettings, Reference
from extractor.service.storage.records import utcnow

# The stability index the alert `ListingevalDrift` fires at (deploy/prometheus/alerts.yml): the
# usual reading of a PSI is under 0.1 stable, 0.1 to 0.2 a moderate shift, over 0.2 a significant one.
ALERT_PSI = 0.2


@dataclass(frozen=True)
class FieldDrift:
    """One field's distribution now against the reference."""

    field: str
    kind: Literal["output", "input"]
    reference_n: float
    current_n: int
    comparison: Comparison | None
    # Both sides hold at least the configured minimum of rows: the figure is exported and alerted on.
    enough: bool

    @property
    def psi(self) -> float | None:
        """The population stability index, or None when a side is empty."""
        return None if self.comparison is None else self.comparison.psi

    @property
    def exported(self) -> bool:
        """Whether the figure goes to the `listingeval_drift` gauge."""
        return self.enough and self.comparison is not None

    @property
    def alarming(self) -> bool:
        """Exported and at or over the alert's threshold."""
        return self.exported and self.psi is not None and self.psi >= ALERT_PSI


@dataclass(frozen=True)
class DriftReport:
    """Every field's drift for one current window."""

    reference: Reference
    start: datetime
    end: datetime
    # The previous window's bounds; None when the reference is the eval set.
    reference_start: datetime | None
    fields: tuple[FieldDrift, ...]
    # Current-window requests whose photo has no recorded dimensions (stored before they were).
    unsized: int
    min_count: int


def measure(
    engine: Engine, settings: DriftSettings, now: datetime | None = None, model: type[BaseModel] = Listing
) -> DriftReport:
    """Drift of every enum output field and photo property over the window ending `now`."""
    end = now or utcnow()
    start = end - settings.window
    fields = enum_fields(model)
    current = window_sample(engine, start, end, fields)
    reference_start: datetime | None = None
    if settings.reference == "eval":
        assert settings.cases_dir is not None, "the config check gives the eval reference its cases folder"
        reference = eval_sample(settings.cases_dir, model, fields)
    else:
        reference_start = start - settings.window
        reference = window_sample(engine, reference_start, start, fields)
    found = [_output(name, reference, current, settings.min_count) for name in fields]
    found += [_input(name, reference, current, settings.min_count) for name in INPUTS]
    return DriftReport(
        settings.reference, start, end, reference_start, tuple(found), current.unsized, settings.min_count
    )


def _output(name: str, reference: Sample, current: Sample, min_count: int) -> FieldDrift:
    ref, cur = reference.outputs.get(name, {}), current.outputs.get(name, {})
    ref_n, cur_n = sum(ref.values()), int(sum(cur.values()))
    enough = min(ref_n, cur_n) >= min_count
    return FieldDrift(name, "output", ref_n, cur_n, compare(ref, cur), enough)


def _input(name: str, reference: Sample, current: Sample, min_count: int) -> FieldDrift:
    ref, cur = reference.inputs.get(name, []), current.inputs.get(name, [])
    if not ref:
        return FieldDrift(name, "input", 0, len(cur), None, False)
    # The bins are cut at the reference's deciles, so both sides are counted in the same bins.
    edges = quantile_edges(ref)
    enough = min(len(ref), len(cur)) >= min_count
    return FieldDrift(name, "input", len(ref), len(cur), compare(histogram(ref, edges), histogram(cur, edges)), enough)
