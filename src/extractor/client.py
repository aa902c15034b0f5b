"""The OpenAI call: one photo in, an `Extraction` or a typed `ExtractionFailure` out."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

import openai
import pydantic
from openai.types.responses import EasyInputMessageParam, ParsedResponse, Response, ResponseInputImageParam
from tenacity import Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from extractor.errors import InvalidImageError
from extractor.images import PreparedImage, prepare_image
from extractor.outcome import Extraction, ExtractionFailure, Outcome, Usage
from extractor.prompts import Prompt, load_prompt
from extractor.retry import StopAtDeadline, WaitRetryAfterOrBackoff, is_retryable, is_transport_fault
from extractor.schema import Listing
from extractor.settings import Settings, load_settings


class Extractor:
    """Calls the model with one prepared photo; holds the SDK client between calls."""

    def __init__(self, settings: Settings | None = None, client: openai.OpenAI | None = None):
        self.settings = settings or load_settings()
        # The SDK reads OPENAI_API_KEY and OPENAI_BASE_URL; its own retries are off so
        # that tenacity's policy is the only one.
        self._client = client or openai.OpenAI(max_retries=0, timeout=self.settings.timeout_s)

    def extract_file(
        self, path: Path, model: str | None = None, prompt: str | None = None, inputs: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Extract a listing from an image file; `inputs` reach the prompt template as `inputs`."""
        try:
            raw = _read_limited(path, self.settings.max_bytes)
        except InvalidImageError as exc:
            return ExtractionFailure(type="invalid_image", message=str(exc))
        return self.extract_bytes(raw, model=model, prompt=prompt, inputs=inputs)

    def extract_bytes(
        self,
        raw: bytes,
        model: str | None = None,
        prompt: str | None = None,
        deadline: float | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Extract a listing from the bytes of an uploaded image, giving up at `deadline` (monotonic)."""
        model = model or self.settings.model
        template = load_prompt(prompt or self.settings.prompt)
        if inputs:
            template = template.with_inputs(inputs)
        try:
            image = self.prepare(raw)
        except InvalidImageError as exc:
            return ExtractionFailure(type="invalid_image", message=str(exc), model=model, prompt_id=template.id)
        return self.extract_image(image, model, template, deadline)

    def prepare(self, raw: bytes) -> PreparedImage:
        """The image exactly as `extract_bytes` sends it (blocking; InvalidImageError when unusable)."""
        return prepare_image(raw, max_side=self.settings.max_side, max_bytes=self.settings.max_bytes)

    def extract_image(self, image: PreparedImage, model: str, prompt: Prompt, deadline: float | None = None) -> Outcome:
        """Call the model with retries (none starting at or after `deadline`) and classify the answer."""
        started = time.perf_counter()
        attempts = 0
        if deadline is not None and time.monotonic() >= deadline:
            # The call waited for a worker until its time ran out: a request now would be thrown away.
            return ExtractionFailure(
                type="api_error",
                message="the deadline passed before the model was called",
                model=model,
                prompt_id=prompt.id,
                code="deadline_exceeded",
                attempts=0,
            )

        def call() -> tuple[ParsedResponse[Listing] | None, Response]:
            nonlocal attempts
            attempts += 1
            return self._call_once(image, model, prompt, deadline)

        try:
            parsed, response = self.retrying(deadline)(call)
        except openai.APIStatusError as exc:
            return _api_failure(exc, model, prompt, attempts, started)
        except openai.APIConnectionError as exc:
            if not is_transport_fault(exc) and exc.__cause__ is not None:
                # Not a network fault (for example a cassette with no matching answer):
                # surface it instead of disguising it as an API error.
                raise exc.__cause__ from exc
            return _api_failure(exc, model, prompt, attempts, started)
        return _classify(parsed, response, model, prompt, attempts, started)

    def retrying(self, deadline: float | None = None) -> Retrying:
        """The retry policy shared by every call; with a deadline, no wait or attempt runs past it."""
        stop: stop_base = stop_after_attempt(self.settings.attempts)
        if deadline is not None:
            stop = stop | StopAtDeadline(deadline)
        return Retrying(
            stop=stop,
            wait=WaitRetryAfterOrBackoff(self.settings.backoff_initial_s, self.settings.backoff_max_s),
            retry=retry_if_exception(is_retryable),
            reraise=True,
        )

    @property
    def client(self) -> openai.OpenAI:
        """The SDK client (shared with the judge)."""
        return self._client

    def _call_once(
        self, image: PreparedImage, model: str, prompt: Prompt, deadline: float | None = None
    ) -> tuple[ParsedResponse[Listing] | None, Response]:
        extra: dict[str, Any] = {}
        if self.settings.temperature is not None:
            extra["temperature"] = self.settings.temperature
        if deadline is not None:
            # A tiny floor: a zero or negative timeout would mean "no timeout" to some transports.
            extra["timeout"] = max(0.001, min(self.settings.timeout_s, deadline - time.monotonic()))
        raw = self._client.responses.with_raw_response.parse(
            model=model,
            instructions=prompt.render(),
            input=[_user_message(image, self.settings.detail)],
            text_format=Listing,
            max_output_tokens=self.settings.max_output_tokens,
            **extra,
        )
        # Build leniently, as the SDK itself does: real responses omit fields that the
        # SDK's types mark required (e.g. usage.input_tokens_details.cache_write_tokens).
        response = Response.construct(**raw.http_response.json())
        try:
            return raw.parse(), response
        except (pydantic.ValidationError, json.JSONDecodeError, ValueError):
            return None, response


def image_part(image: PreparedImage, detail: str) -> ResponseInputImageParam:
    """An `input_image` content part holding the photo as a data URL."""
    return {
        "type": "input_image",
        "image_url": image.data_url(),
        "detail": cast(Literal["low", "high", "auto"], detail),
    }


def _user_message(image: PreparedImage, detail: str) -> EasyInputMessageParam:
    """The user turn: the photo alone (the instructions carry the task)."""
    return {"role": "user", "content": [image_part(image, detail)]}


def _read_limited(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidImageError(f"{path.name} is {size} bytes, over the {max_bytes}-byte limit")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidImageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _usage(response: Response) -> Usage:
    usage = response.usage
    if usage is None:
        return Usage()
    cached = getattr(usage.input_tokens_details, "cached_tokens", 0) or 0
    reasoning = getattr(usage.output_tokens_details, "reasoning_tokens", 0) or 0
    return Usage(usage.input_tokens, usage.output_tokens, cached, reasoning)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _output_text_and_refusal(response: Response) -> tuple[str, str | None]:
    texts: list[str] = []
    refusal: str | None = None
    for item in response.output:
        if item.type != "message":
            continue
        for part in item.content:
            if part.type == "output_text":
                texts.append(part.text)
            elif part.type == "refusal":
                refusal = part.refusal
    return "".join(texts), refusal


def _classify(
    parsed: ParsedResponse[Listing] | None,
    response: Response,
    model: str,
    prompt: Prompt,
    attempts: int,
    started: float,
) -> Outcome:
    common: dict[str, Any] = {
        "model": model,
        "prompt_id": prompt.id,
        "response_id": response.id,
        "usage": _usage(response),
        "latency_ms": _elapsed_ms(started),
        "attempts": attempts,
    }
    text, refusal = _output_text_and_refusal(response)
    if refusal is not None:
        return ExtractionFailure(type="refusal", message=refusal, **common)
    if response.status == "incomplete":
        details = response.incomplete_details
        reason = details.reason if details and details.reason else "unknown"
        return ExtractionFailure(type="incomplete", message=f"output cut short ({reason})", code=reason, **common)
    if response.status == "failed" and response.error is not None:
        return ExtractionFailure(type="api_error", message=response.error.message, code=response.error.code, **common)
    listing = parsed.output_parsed if parsed is not None else None
    if listing is None:
        if not text.strip():
            return ExtractionFailure(
                type="invalid_output",
                message="the model returned no output",
                code="empty_output",
                **common,
            )
        return ExtractionFailure(type="invalid_output", message=_why_invalid(text), **common)
    return Extraction(listing=listing, **common)


def _why_invalid(text: str) -> str:
    try:
        Listing.model_validate_json(text)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "output"
        return f"output does not match the schema: {where}: {first['msg']}"
    return "output could not be parsed"


def _api_failure(exc: openai.APIError, model: str, prompt: Prompt, attempts: int, started: float) -> ExtractionFailure:
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    request_id = exc.request_id if isinstance(exc, openai.APIStatusError) else None
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("message") or exc.message)
    code = exc.code or (type(exc).__name__ if status is None else None)
    return ExtractionFailure(
        type="api_error",
        message=message,
        model=model,
        prompt_id=prompt.id,
        status=status,
        code=code,
        request_id=request_id,
        latency_ms=_elapsed_ms(started),
        attempts=attempts,
    )
