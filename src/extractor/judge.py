"""A model that grades one free-text field against a rubric, looking at the same photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
from pydantic import BaseModel, Field

from extractor.client import Extractor, image_part
from extractor.errors import InvalidImageError
from extractor.images import prepare_image

JUDGE_INSTRUCTIONS = """You grade one field of a marketplace listing that another model wrote from the photo.
Rubric: {rubric}
Look at the photo and the value. Set passed to true only when the value meets every point of
the rubric; otherwise false. Give the reason in one short sentence."""


class JudgeVerdict(BaseModel):
    """The judge's structured answer."""

    passed: bool
    reason: str = Field(description="One short sentence explaining the verdict.")


def judge_field(extractor: Extractor, image: Path, rubric: str, field: str, value: Any, model: str) -> tuple[bool, str]:
    """Ask `model` whether `value` of `field` meets the rubric; failures are a fail with the reason."""
    settings = extractor.settings
    try:
        prepared = prepare_image(image.read_bytes(), max_side=settings.max_side, max_bytes=settings.max_bytes)
    except (OSError, InvalidImageError) as exc:
        return False, f"judge could not read the image: {exc}"
    text = f"Field: {field}\nValue: {json.dumps(value, ensure_ascii=False)}"

    def call() -> JudgeVerdict | None:
        response = extractor.client.responses.parse(
            model=model,
            instructions=JUDGE_INSTRUCTIONS.format(rubric=rubric),
            input=[
                {
                    "role": "user",
                    "content": [image_part(prepared, settings.detail), {"type": "input_text", "text": text}],
                }
            ],
            text_format=JudgeVerdict,
            max_output_tokens=300,
        )
        return response.output_parsed

    try:
        verdict = extractor.retrying()(call)
    except openai.APIError as exc:
        return False, f"judge call failed: {exc.message}"
    except ValueError as exc:  # pydantic.ValidationError: the judge's answer was not a verdict
        return False, f"judge answer was not a verdict: {str(exc).splitlines()[0]}"
    if verdict is None:
        return False, "judge gave no verdict (refusal or empty answer)"
    return verdict.passed, verdict.reason
