"""Request input guards: bodies read under a byte limit, JSON parsed off the loop, text kept free of NUL."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from email.message import Message
from typing import TypeVar

import anyio
import pydantic
from fastapi import Request
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from extractor.service.api.errors import ApiError
from extractor.service.deps import config_of

M = TypeVar("M", bound=pydantic.BaseModel)

# Bytes read and thrown away past a limit before the 413, so that a client that sends its whole
# body before reading (urllib, curl without Expect) reads the answer instead of a reset.
DRAIN_MIN_BYTES = 4 * 1024 * 1024
# Bodies up to this size are parsed on the event loop: a thread hop would cost more than the parse.
PARSE_INLINE_BYTES = 16 * 1024


def json_limit(request: Request) -> int:
    """The byte limit for JSON and form bodies (`[tool.listingeval.service] max_json_bytes`)."""
    return config_of(request).max_json_bytes


def drain_bound(limit: int) -> int:
    """How many bytes of an oversized body are read (and dropped) before answering 413."""
    return limit + max(limit, DRAIN_MIN_BYTES)


def too_large(limit: int, what: str = "request body") -> ApiError:
    """A 413 in the error shape that also closes the connection."""
    error = ApiError(413, "too_large", f"the {what} is over the {limit}-byte limit")
    error.headers["Connection"] = "close"
    return error


class SlowBody(ApiError):
    """A 408: the body stalled or took too long in all; the connection is closed."""

    def __init__(self, seconds: float, what: str):
        super().__init__(408, "request_timeout", f"the request body {what} {seconds:g} s: send it without pauses")
        self.headers["Connection"] = "close"


def declared_length(request: Request) -> int | None:
    """The Content-Length header as a number, or None when absent or not a number."""
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


async def _drain(chunks: AsyncIterator[bytes], received: int, bound: int) -> None:
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > bound:
                return
    except (ClientDisconnect, SlowBody):  # the answer being drained for stays the answer
        return


async def timed_stream(request: Request) -> AsyncGenerator[bytes, None]:
    """The body's chunks, raising a 408 when one is late by the idle timeout or all take over the total."""
    config = config_of(request)
    idle_s, total_s = config.body_idle_timeout_s, config.body_timeout_s
    deadline = anyio.current_time() + total_s
    chunks = request.stream().__aiter__()
    while True:
        left = deadline - anyio.current_time()
        with anyio.move_on_after(min(idle_s, left)) as waited:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
        if waited.cancelled_caught:
            raise SlowBody(idle_s, "stalled for") if idle_s < left else SlowBody(total_s, "took over")
        yield chunk


async def limited_chunks(request: Request, limit: int, error: ApiError | None = None) -> AsyncGenerator[bytes, None]:
    """The body's chunks; once over `limit`, drain a bounded amount and raise the 413 (`error`)."""
    refusal = error or too_large(limit)
    declared = declared_length(request)
    chunks = timed_stream(request)
    if declared is not None and declared > limit:
        if declared <= drain_bound(limit):
            await _drain(chunks, 0, drain_bound(limit))
        raise refusal
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            await _drain(chunks, received, drain_bound(limit))
            raise refusal
        yield chunk


async def discard_body(request: Request, limit: int) -> None:
    """Read and drop an unread body (at most `drain_bound(limit)` bytes) so that an early error can be read."""
    declared = declared_length(request)
    if declared == 0 or (declared is None and "transfer-encoding" not in request.headers):
        return
    if declared is not None and declared > drain_bound(limit):
        return
    try:
        await _drain(timed_stream(request), 0, drain_bound(limit))
    except RuntimeError:  # already read by someone else: nothing left to drop
        return


async def read_body(request: Request, limit: int, error: ApiError | None = None) -> bytes:
    """The whole body, read in chunks and refused with a 413 as soon as it grows over `limit` bytes."""
    parts = [chunk async for chunk in limited_chunks(request, limit, error)]
    return b"".join(parts)


def _validation_message(exc: pydantic.ValidationError, what: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"not a valid {what}: {where}: {first['msg']}"


async def parse_json(model: type[M], raw: bytes, what: str) -> M:
    """`raw` validated as `model` (in a worker thread when large), with clean text; else a 400."""
    try:
        if len(raw) <= PARSE_INLINE_BYTES:
            parsed = model.model_validate_json(raw)
        else:
            # The parser holds the GIL in stretches; the thread lets the loop run between them,
            # and the byte limit keeps the stretches short.
            parsed = await anyio.to_thread.run_sync(model.model_validate_json, raw)
    except pydantic.ValidationError as exc:
        raise ApiError(400, "bad_request", _validation_message(exc, what)) from exc
    check_text(parsed.model_dump(mode="python"), "body")
    return parsed


async def read_json(request: Request, model: type[M], what: str) -> M:
    """The JSON body as `model`: 413 over the JSON limit, 400 when invalid or holding bad text."""
    return await parse_json(model, await read_body(request, json_limit(request)), what)


_FORM_STATE = "listingeval_form"


async def read_form(request: Request, limit: int | None = None, max_fields: int = 100) -> dict[str, str]:
    """A urlencoded or multipart form's text fields, under a byte limit (default: the JSON one), with clean text.

    The fields are kept on the request: the CSRF check reads the form before the route does,
    and a request body can be streamed only once.
    """
    cached = getattr(request.state, _FORM_STATE, None)
    if isinstance(cached, dict):
        return dict(cached)
    limit = json_limit(request) if limit is None else limit
    chunks = limited_chunks(request, limit)
    content_type = request.headers.get("content-type", "")
    parser: FormParser | MultiPartParser
    received: list[bytes] = []
    multipart = content_type.startswith("multipart/form-data")
    if multipart:
        chunks = _kept(chunks, received)
        parser = MultiPartParser(request.headers, chunks, max_files=0, max_fields=max_fields, max_part_size=limit)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        parser = FormParser(request.headers, chunks, max_fields=max_fields, max_part_size=limit)
    else:
        async for _ in chunks:
            pass
        raise ApiError(400, "bad_request", "send the form as application/x-www-form-urlencoded or multipart/form-data")
    try:
        form: FormData = await parser.parse()
    except MultiPartException as exc:
        async for _ in chunks:
            pass
        raise ApiError(400, "bad_request", f"malformed form: {exc.message}") from exc
    if multipart and not _closed(b"".join(received), content_type):
        await form.close()
        raise ApiError(400, "bad_request", "malformed form: the multipart body does not end with its closing boundary")
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    await form.close()
    check_text(fields, "form")
    setattr(request.state, _FORM_STATE, dict(fields))
    return fields


async def _kept(chunks: AsyncIterator[bytes], kept: list[bytes]) -> AsyncGenerator[bytes, None]:
    """The chunks, also kept in `kept` (forms are bounded by the JSON limit, so this is small)."""
    async for chunk in chunks:
        kept.append(chunk)
        yield chunk


def _closed(body: bytes, content_type: str) -> bool:
    """Whether a multipart body is empty or holds its close delimiter.

    The parser drops a part cut short before the closing `--boundary--` without a word, so a
    truncated form would lose its fields silently; refusing it keeps "malformed means 400".
    """
    if not body.strip():
        return True
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        return False
    close = b"--" + boundary.encode("latin-1", "replace") + b"--"
    return body.startswith(close) or b"\r\n" + close in body


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (a NUL, a lone surrogate), or None when it can."""
    if "\x00" in value:
        return "holds a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (not valid UTF-8)"
    return None


def check_text(value: object, where: str) -> None:
    """400 when any string in `value` (walking dicts and lists, keys too) holds NUL or a lone surrogate."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise ApiError(400, "bad_request", f"{where} {problem}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(key, where)
            check_text(item, f"{where}.{key}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(value):
            check_text(item, f"{where}[{index}]")


def check_request_text(request: Request) -> None:
    """400 when a path parameter, query parameter or header holds NUL or a lone surrogate."""
    for name, value in request.path_params.items():
        check_text(value, f"path parameter {name!r}")
    for key, value in request.query_params.multi_items():
        check_text(key, "a query parameter name")
        check_text(value, f"query parameter {key!r}")
    for key, value in request.headers.items():
        check_text(value, f"header {key!r}")


def _largest_limit(request: Request) -> int:
    return max(json_limit(request), config_of(request).max_upload_bytes)


async def clean_request(request: Request) -> None:
    """Dependency: `check_request_text`, dropping the unread body (bounded) before the 400."""
    try:
        check_request_text(request)
    except ApiError:
        await discard_body(request, _largest_limit(request))
        raise
