"""A model that grades one free-text field against a rubric, looking at the same photo."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from openai.types.responses import ParsedResponse
from pydantic import BaseModel, Field

from extractor.client import Extractor, image_part
from extractor.errors import InvalidImageError
from extractor.images import prepare_image
from extractor.outcome import Usage

JUDGE_INSTRUCTIONS = """You grade one field of a marketplace listing that another model wrote from the photo.
Rubric: {rubric}
Look at the photo and the value. Set passed to true only when the value meets every point of
the rubric; otherwise false. Give the reason in one short sentence."""
# The verdict is one bool and a sentence; this also bounds what one judge call can cost.
JUDGE_MAX_OUTPUT_TOKENS = 300


class JudgeVerdict(BaseModel):
    """The judge's structured answer."""

    passed: bool
    reason: str = Field(description="One short sentence explaining the verdict.")


@dataclass(frozen=True)
class Grade:
    """A judge's answer: passed or not, or None when there was no verdict (the reason says why), and its usage."""

    passed: bool | None
    reason: str
    usage: Usage = field(default_factory=Usage)


def grade_field(extractor: Extractor, image: bytes, rubric: str, name: str, value: Any, model: str) -> Grade:
    """Ask `model` whether `value` of the field `name` meets the rubric, looking at the photo's bytes."""
    settings = extractor.settings
    try:
        prepared = prepare_image(image, max_side=settings.max_side, max_bytes=settings.max_bytes)
    except InvalidImageError as exc:
        return Grade(None, f"judge could not read the image: {exc}")
    text = f"Field: {name}\nValue: {json.dumps(value, ensure_ascii=False)}"

    def call() -> ParsedResponse[JudgeVerdict]:
        return extractor.client.responses.parse(
            model=model,
            instructions=JUDGE_INSTRUCTIONS.format(rubric=rubric),
            input=[
                {
                    "role": "user",
                    "content": [image_part(prepared, settings.detail), {"type": "input_text", "text": text}],
                }
            ],
            text_format=JudgeVerdict,
            max_output_tokens=JUDGE_MAX_OUTPUT_TOKENS,
        )

    try:
        response = extractor.retrying()(call)
    except openai.APIError as exc:
        return Grade(None, f"judge call failed: {exc.message}")
    except ValueError as exc:  # pydantic.ValidationError: the judge's answer was not a verdict
        return Grade(None, f"judge answer was not a verdict: {str(exc).splitlines()[0]}")
    usage = response.usage
    spent = Usage() if usage is None else Usage(usage.input_tokens or 0, usage.output_tokens or 0)
    verdict = response.output_parsed
    if verdict is None:
        return Grade(None, "judge gave no verdict (refusal or empty answer)", spent)
    return Grade(verdict.passed, verdict.reason, spent)


def judge_field(extractor: Extractor, image: Path, rubric: str, field: str, value: Any, model: str) -> tuple[bool, str]:
    """Ask `model` whether `value` of `field` meets the rubric; failures are a fail with the reason."""
    try:
        raw = image.read_bytes()
    except OSError as exc:
        return False, f"judge could not read the image: {exc}"
    grade = grade_field(extractor, raw, rubric, field, value, model)
    return grade.passed is True, grade.reason
