"""Reading a multipart upload in chunks, refusing it as soon as it grows over the limit."""

from __future__ import annotations

import hashlib

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from extractor.errors import InvalidImageError
from extractor.images import prepare_image
from extractor.service.bodies import limited_chunks, too_large
from extractor.service.errors import ApiError
from extractor.service.records import Upload

# Room for the multipart boundaries and part headers around the image itself.
ENVELOPE_BYTES = 64 * 1024
FIELD = "image"


def _too_large(limit: int) -> ApiError:
    return too_large(limit, "upload")


async def read_image(request: Request, limit: int) -> Upload:
    """The `image` field of a multipart body; 413 while reading once over `limit` bytes."""
    chunks = limited_chunks(request, limit + ENVELOPE_BYTES, _too_large(limit))
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        async for _ in chunks:  # read (bounded) so the client gets the 400, not a reset
            pass
        raise ApiError(400, "bad_request", f"send the photo as multipart/form-data field {FIELD!r}")
    parser = MultiPartParser(request.headers, chunks, max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        async for _ in chunks:  # as above: a bounded read first, so the 400 can be read
            pass
        raise ApiError(400, "bad_request", f"malformed multipart body: {exc.message}") from exc
    try:
        part = form.get(FIELD)
        if not isinstance(part, UploadFile):
            raise ApiError(400, "bad_request", f"the multipart field {FIELD!r} with a file is required")
        data = await part.read(limit + 1)
        if len(data) > limit:
            raise _too_large(limit)
    finally:
        await form.close()
    return Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), content_type=sniff(data))


def check_image(upload: Upload, max_bytes: int) -> None:
    """400 `invalid_image` unless the bytes decode as an image the extractor accepts (blocking)."""
    try:
        # A full decode, so that nothing the extractor would refuse reaches the database;
        # the tiny output size keeps the resize and re-encode cheap.
        prepare_image(upload.data, max_side=64, max_bytes=max_bytes)
    except InvalidImageError as exc:
        raise ApiError(400, "invalid_image", str(exc)) from exc


def sniff(data: bytes) -> str:
    """The content type told by the file's magic bytes (octet-stream when unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"
