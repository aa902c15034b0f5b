"""The judge as the worker calls it: the extractor's own judge (extractor/judge.py) on the stored photo."""

from __future__ import annotations

from typing import Any, Protocol

from extractor.client import Extractor
from extractor.judge import Grade, grade_field
from extractor.settings import Settings


class Grader(Protocol):
    """Grades one field's value against a rubric, looking at the photo (blocking)."""

    def grade(self, image: bytes, rubric: str, field: str, value: Any, model: str) -> Grade: ...


class ExtractorGrader:
    """`grade_field` through an extractor's SDK client and retry policy."""

    def __init__(self, extractor: Extractor):
        self.extractor = extractor

    def grade(self, image: bytes, rubric: str, field: str, value: Any, model: str) -> Grade:
        """The judge's verdict on the value, with its token usage."""
        return grade_field(self.extractor, image, rubric, field, value, model)


def default_grader(extractor: object, settings: Settings) -> Grader:
    """The service's extractor as the judge when it is the real one, else a new one from the settings."""
    return ExtractorGrader(extractor if isinstance(extractor, Extractor) else Extractor(settings))
