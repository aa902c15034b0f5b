"""The extractor as an eval task for pytest-listingeval (`[tool.listingeval] task`)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from extractor.errors import ConfigError
from extractor.extras import missing_extra_message

try:
    import openai

    from extractor.client import Extractor
    from extractor.judge import judge_field
except ModuleNotFoundError as exc:
    # The harness shows this as the reason the task cannot load: name the extra, not one module.
    message = missing_extra_message("the extractor's eval task", "openai") or str(exc)
    raise ModuleNotFoundError(message, name=exc.name) from exc
from extractor.prompts import load_prompt
from extractor.schema import Listing, listing_json_schema, schema_id
from extractor.settings import Settings, load_settings
from pytest_listingeval import CaseInput, TaskDescription, TaskResult

# Used only when replaying cassettes: the SDK insists on a key, and no request leaves.
_REPLAY_KEY = "replay-without-a-key"


class ListingTask:
    """Extract a listing from a case's image with a given model and prompt."""

    output_model = Listing
    # Shown before the record command the harness prints: recording calls the API with this key.
    record_env = ("OPENAI_API_KEY",)

    @cached_property
    def settings(self) -> Settings:
        """Settings from the project's pyproject.toml."""
        return load_settings()

    @cached_property
    def extractor(self) -> Extractor:
        """One SDK client per process, reused across cases."""
        client = openai.OpenAI(
            api_key=os.environ.get("OPENAI_API_KEY") or _REPLAY_KEY,
            max_retries=0,
            timeout=self.settings.timeout_s,
        )
        return Extractor(self.settings, client=client)

    def describe(self, model: str, prompt: str) -> TaskDescription:
        """Fingerprint of model, prompt template, schema and parameters."""
        try:
            template = load_prompt(prompt)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return TaskDescription(
            model=model,
            prompt=prompt,
            prompt_id=template.id,
            prompt_text=template.source,
            schema_id=schema_id(),
            json_schema=listing_json_schema(),
            params=self.settings.params(),
        )

    def readiness_problem(self, recording: bool) -> str | None:
        """Recording needs a real key; replaying needs none."""
        if recording and not os.environ.get("OPENAI_API_KEY"):
            return "recording calls the API: set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server)"
        return None

    def case_problem(self, case: CaseInput) -> str | None:
        """A listing is extracted from a photo: a case must give `image`."""
        return None if case.image is not None else "a listing case needs 'image' (the seller's photo)"

    def judge(self, case: CaseInput, rubric: str, field: str, value: Any, model: str) -> tuple[bool, str]:
        """Grade a free-text field with a model and a rubric (a `judge` check)."""
        return judge_field(self.extractor, _image(case), rubric, field, value, model)

    def run(self, case: CaseInput, model: str, prompt: str) -> TaskResult:
        """Extract one listing (the case's inputs reach the prompt template); failures become `TaskResult.error`."""
        outcome = self.extractor.extract_file(_image(case), model=model, prompt=prompt, inputs=case.variables())
        usage = {
            "input_tokens": outcome.usage.input_tokens,
            "output_tokens": outcome.usage.output_tokens,
        }
        if outcome.ok:
            return TaskResult(
                output=outcome.listing.model_dump(mode="json"),
                latency_ms=outcome.latency_ms,
                usage=usage,
            )
        error = {"type": outcome.type, "message": outcome.summary()}
        if outcome.code:
            error["code"] = outcome.code
        return TaskResult(output=None, error=error, latency_ms=outcome.latency_ms, usage=usage)


def _image(case: CaseInput) -> Path:
    if case.image is None:  # refused at collection by `case_problem`
        raise ValueError(f"case {case.id!r} gives no image")
    return case.image


task = ListingTask()
