"""The eval-set reference: the cases' expected values and photos, read with the case loader."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from extractor.schema import Listing
from extractor.service.quality.drift import measure
from extractor.service.quality.fields import enum_fields
from extractor.service.quality.samples import eval_sample
from extractor.service.quality.settings import DriftSettings
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from tests.service.conftest import png
from tests.service.quality_rows import insert_requests, listings

pytestmark = pytest.mark.service

CASES = {
    "one.yaml": "image: images/a.png\nexpected:\n  category: electronics\n  color: red\n",
    "two.yaml": (
        "image: images/b.png\nexpected:\n  category: electronics\n  color: {any_of: [red, blue]}\n  condition: new\n"
    ),
    # A case accepting two values counts half toward each; a field no check constrains is not counted.
    "sub/three.yaml": (
        "image: ../images/c.png\nexpected:\n  category: {any_of: [fashion, other]}\n  title: {contains_any: [hat]}\n"
    ),
    "broken.yaml": "image: images/a.png\nexpected:\n  colour: red\n",  # an unknown field: left out
}
SIZES = {"a.png": (100, 50), "b.png": (200, 200), "c.png": (40, 80)}


def _eval_set(root: Path) -> Path:
    cases = root / "cases"
    (cases / "images").mkdir(parents=True)
    for name, size in SIZES.items():
        (cases / "images" / name).write_bytes(png(size=size))
    for name, text in CASES.items():
        (cases / name).parent.mkdir(parents=True, exist_ok=True)
        (cases / name).write_text(text, encoding="utf-8")
    return cases


def test_the_eval_set_as_a_reference(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cases = _eval_set(tmp_path)
    sample = eval_sample(cases, Listing, enum_fields(Listing))
    assert dict(sample.outputs["category"]) == {"electronics": 2.0, "fashion": 0.5, "other": 0.5}
    assert dict(sample.outputs["color"]) == {"red": 1.5, "blue": 0.5}
    assert dict(sample.outputs["condition"]) == {"new": 1.0}
    assert sorted(sample.inputs["image_width"]) == [40, 100, 200]
    assert sorted(sample.inputs["image_aspect_ratio"]) == [0.5, 1.0, 2.0]
    assert sorted(sample.inputs["image_bytes"]) == sorted(float(len(png(size=s))) for s in SIZES.values())
    assert any("broken.yaml" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_drift_against_the_eval_set(store: Store, tmp_path: Path) -> None:
    settings = DriftSettings(reference="eval", min_count=3, cases_dir=_eval_set(tmp_path))
    now = utcnow()
    values = ["electronics", "fashion", "fashion", "toys_games"]
    insert_requests(store.engine, now - settings.window / 2, settings.window / 4, listings("category", values))

    report = measure(store.engine, settings, now)

    category = next(f for f in report.fields if f.field == "category")
    assert report.reference == "eval" and report.reference_start is None
    assert category.reference_n == 3 and category.current_n == 4 and category.exported
    # By hand: electronics, fashion, other and toys_games, half a count added to each side's bins.
    reference, current = [2.0, 0.5, 0.5, 0.0], [1.0, 2.0, 0.0, 1.0]
    p = [(c + 0.5) / (3 + 2) for c in reference]
    q = [(c + 0.5) / (4 + 2) for c in current]
    assert category.psi == pytest.approx(math.fsum((y - x) * math.log(y / x) for x, y in zip(p, q, strict=True)))
    condition = next(f for f in report.fields if f.field == "condition")
    assert condition.reference_n == 1 and not condition.exported  # one labelled case: under the minimum
