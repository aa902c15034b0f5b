"""What drift compares: the enum outputs and photo properties of a time window, or of the eval set.

A photo stored before its dimensions were recorded (width and height null) is left out of the
width, height and aspect-ratio figures and counted in `unsized`; its byte size is always known.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel
from sqlalchemy import Engine, select

from extractor.service.dashboard.stats import ROW_CAP
from extractor.service.storage.tables import extractions, images
from pytest_listingeval import CaseError, load_case, run_checks
from pytest_listingeval.coverage import case_files

log = logging.getLogger(__name__)

INPUTS: tuple[str, ...] = ("image_width", "image_height", "image_aspect_ratio", "image_bytes")
# An output value the model no longer allows (a row stored under an older schema).
OTHER = "(other)"


@dataclass
class Sample:
    """One side of a comparison: counts per enum field and value, and each photo property's values."""

    outputs: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    inputs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unsized: int = 0

    def add_output(self, name: str, value: Any, allowed: tuple[str, ...]) -> None:
        """Count one output value of an enum field (null is not counted)."""
        if value is not None:
            self.outputs[name][str(value) if str(value) in allowed else OTHER] += 1

    def add_photo(self, width: int | None, height: int | None, size: int) -> None:
        """Record one photo's properties."""
        self.inputs["image_bytes"].append(float(size))
        if not width or not height:
            self.unsized += 1
            return
        self.inputs["image_width"].append(float(width))
        self.inputs["image_height"].append(float(height))
        self.inputs["image_aspect_ratio"].append(width / height)


def window_sample(engine: Engine, start: datetime, end: datetime, fields: Mapping[str, tuple[str, ...]]) -> Sample:
    """Outputs of the ok requests and photos of every request created in [start, end) (the newest ROW_CAP)."""
    query = (
        select(extractions.c.status, extractions.c.output, images.c.width, images.c.height, images.c.size)
        .select_from(extractions.outerjoin(images, images.c.sha256 == extractions.c.image_sha256))
        .where(extractions.c.created_at >= start, extractions.c.created_at < end)
        .order_by(extractions.c.created_at.desc())
        .limit(ROW_CAP)
    )
    sample = Sample()
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.status == "ok" and row.output:
                for name, allowed in fields.items():
                    sample.add_output(name, row.output.get(name), allowed)
            if row.size is not None:
                sample.add_photo(row.width, row.height, row.size)
    return sample


def eval_sample(cases_dir: Path, model: type[BaseModel], fields: Mapping[str, tuple[str, ...]]) -> Sample:
    """The eval set's expected values and photos; a case accepting k values counts 1/k toward each."""
    sample = Sample()
    for path in case_files(cases_dir):
        try:
            case = load_case(path, cases_dir, model)
        except CaseError as exc:
            log.warning("drift reference: case left out: %s", exc)
            continue
        for name, allowed in fields.items():
            checks = case.checks.get(name)
            if not checks:
                continue
            accepted = [v for v in allowed if all(o.passed for o in run_checks(checks, v))]
            # A spec that accepts every value (or none: a judge rubric) tells nothing about the distribution.
            if 0 < len(accepted) < len(allowed):
                for value in accepted:
                    sample.outputs[name][value] += 1 / len(accepted)
        if case.image is not None:
            try:
                with Image.open(case.image) as photo:
                    width, height = photo.size
            except OSError as exc:
                log.warning("drift reference: the photo of case %s cannot be read: %s", case.id, exc)
                continue
            sample.add_photo(width, height, case.image.stat().st_size)
    return sample
