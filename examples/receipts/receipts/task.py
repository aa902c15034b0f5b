"""The receipts feature as a listingeval task: one `chat.completions.parse` call per case."""

from __future__ import annotations

import hashlib
import json
import os
import string
import time
from pathlib import Path
from typing import Any, ClassVar

import openai

from pytest_listingeval import CaseInput, TaskDescription, TaskResult
from receipts.schema import Receipt

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
# Replaying cassettes sends nothing, but the SDK insists on a key.
_REPLAY_KEY = "replay-without-a-key"


def _sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _prompt_source(prompt: str) -> str:
    path = PROMPTS / f"{prompt}.txt"
    if "/" in prompt or not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS.glob("*.txt")))
        raise ValueError(f"unknown prompt {prompt!r}; prompts: {known}")
    return path.read_text(encoding="utf-8")


class ReceiptTask:
    """Read one receipt's text into a `Receipt`."""

    output_model = Receipt
    record_env = ("OPENAI_API_KEY",)
    params: ClassVar[dict[str, Any]] = {"temperature": 0}

    def describe(self, model: str, prompt: str) -> TaskDescription:
        """What a run sends: the prompt template, the schema, the parameters."""
        source = _prompt_source(prompt)
        schema = Receipt.model_json_schema()
        return TaskDescription(
            model=model,
            prompt=prompt,
            prompt_id=f"{prompt}-{_sha8(source)}",
            prompt_text=source,
            schema_id=_sha8(json.dumps(schema, sort_keys=True)),
            json_schema=schema,
            params=dict(self.params),
        )

    def readiness_problem(self, recording: bool) -> str | None:
        """Recording calls the API and needs a key; replaying does not."""
        if recording and not os.environ.get("OPENAI_API_KEY"):
            return "recording calls the API: set OPENAI_API_KEY (and OPENAI_BASE_URL for another server)"
        return None

    def case_problem(self, case: CaseInput) -> str | None:
        """Each case gives the receipt (`receipt: {file: ...}`) and its `locale`."""
        missing = [name for name in ("receipt", "locale") if name not in case.inputs]
        return f"inputs {missing} are required" if missing else None

    def run(self, case: CaseInput, model: str, prompt: str) -> TaskResult:
        """Ask the model; refusals, cut answers and API errors come back as `TaskResult.error`."""
        instructions = string.Template(_prompt_source(prompt)).substitute(locale=case.inputs["locale"])
        text = case.file("receipt").read_text(encoding="utf-8")
        started = time.perf_counter()
        client = openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or _REPLAY_KEY, max_retries=2)
        try:
            completion = client.chat.completions.parse(
                model=model,
                messages=[{"role": "system", "content": instructions}, {"role": "user", "content": text}],
                response_format=Receipt,
                **self.params,
            )
        except openai.LengthFinishReasonError:
            return TaskResult(output=None, error={"type": "incomplete", "message": "the answer was cut"})
        except openai.APIError as exc:
            return TaskResult(output=None, error={"type": "api_error", "message": str(exc)})
        latency_ms = round((time.perf_counter() - started) * 1000)
        usage = completion.usage
        tokens = {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens} if usage else {}
        message = completion.choices[0].message
        if message.refusal or message.parsed is None:
            error = {"type": "refusal", "message": message.refusal or "no parsed output"}
            return TaskResult(output=None, error=error, latency_ms=latency_ms, usage=tokens)
        return TaskResult(output=message.parsed.model_dump(mode="json"), latency_ms=latency_ms, usage=tokens)


task = ReceiptTask()
