"""Reading a multipart upload in chunks (refused once over the limit) and stripping its metadata."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from collections.abc import Callable

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from extractor.errors import InvalidImageError
from extractor.images import MAX_PIXELS, prepare_image
from extractor.service.api.bodies import limited_chunks, too_large
from extractor.service.api.errors import ApiError
from extractor.service.storage.records import Upload

# Room for the multipart boundaries and part headers around the image itself.
ENVELOPE_BYTES = 64 * 1024
FIELD = "image"
ORIENTATION_TAG = 0x0112
# A photo that has to be decoded to apply its orientation is saved again at this quality (and at
# the lower ones when that would not fit under the upload limit).
JPEG_QUALITIES = (95, 85)


def _too_large(limit: int) -> ApiError:
    return too_large(limit, "upload")


async def read_image(request: Request, limit: int) -> bytes:
    """The `image` field of a multipart body, as sent; 413 while reading once over `limit` bytes."""
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
    return data


def accept_image(data: bytes, limit: int) -> Upload:
    """The upload to store, metadata stripped, with its size; 400 `invalid_image` unless it decodes (blocking)."""
    data = strip_metadata(data, limit)
    width, height = check_image(data, limit)
    return Upload(data, hashlib.sha256(data).hexdigest(), sniff(data), width, height)


def check_image(data: bytes, max_bytes: int) -> tuple[int, int]:
    """The image's width and height; 400 `invalid_image` unless the bytes decode as one the extractor accepts."""
    try:
        # Every block decoded, so that nothing the extractor would refuse reaches the database;
        # a JPEG at its smallest scale and the tiny output keep it cheap (about 1 ms, not 10).
        checked = prepare_image(data, max_side=64, max_bytes=max_bytes, draft=True)
    except InvalidImageError as exc:
        raise ApiError(400, "invalid_image", str(exc)) from exc
    return checked.source_width, checked.source_height


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


class _Malformed(Exception):
    """The container could not be walked chunk by chunk."""


def strip_metadata(data: bytes, limit: int) -> bytes:
    """The image without EXIF, XMP, IPTC, ICC, comments or text chunks; as is when it is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            format_ = probe.format
            if probe.width * probe.height > MAX_PIXELS:
                return data  # check_image refuses it before anything is decoded
            try:
                orientation = int(probe.getexif().get(ORIENTATION_TAG, 1))
            except Exception:  # unreadable EXIF: it is dropped below all the same
                orientation = 1
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return data  # check_image refuses what Pillow cannot open, so nothing is stored
    lossless = _LOSSLESS.get(format_ or "")
    if lossless is not None and orientation in (0, 1):
        try:
            return lossless(data)
        except _Malformed:
            pass
    return _reencode(data, limit)


def _reencode(data: bytes, limit: int) -> bytes:
    """Decode, apply the EXIF orientation and save again without any metadata."""
    try:
        image = _decode(data)
        source_format = image.format
        image = ImageOps.exif_transpose(image)
        out = _strip_png(_save_png(image)) if source_format != "JPEG" else b""
        for quality in JPEG_QUALITIES:
            if out and len(out) <= limit:
                break
            out = _strip_jpeg(_save_jpeg(image, quality))
        return out
    except (InvalidImageError, OSError, ValueError, SyntaxError, _Malformed):
        return data  # undecodable: check_image refuses it with the extractor's own message


def _decode(data: bytes) -> Image.Image:
    """Open and load an image under the extractor's pixel limit (first frame of an animation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImageError("too many pixels")
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, UnidentifiedImageError) as exc:
            raise InvalidImageError(str(exc)) from exc
    return image


def _save_png(image: Image.Image) -> bytes:
    if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    out = io.BytesIO()
    extra = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.save(out, format="PNG", icc_profile=None, exif=b"", **extra)
    return out.getvalue()


def _save_jpeg(image: Image.Image, quality: int) -> bytes:
    if image.mode not in ("L", "RGB", "CMYK"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    out = io.BytesIO()
    # Only what is passed here is written: no EXIF, ICC profile or comment from the source's info.
    image.save(out, format="JPEG", quality=quality, exif=b"", icc_profile=None, comment=b"")
    return out.getvalue()


# JPEG markers that carry the picture itself: frames, tables, restart interval, scans.
_JPEG_IMAGE_MARKERS = frozenset(range(0xC0, 0xD0)) | {0xDB, 0xDC, 0xDD, 0xDE, 0xDF}
_APP0, _APP14, _SOS, _EOI = 0xE0, 0xEE, 0xDA, 0xD9


def _strip_jpeg(data: bytes) -> bytes:
    """Keep the frame, tables and scans; drop APPn (but JFIF and Adobe), comments and anything after EOI."""
    if not data.startswith(b"\xff\xd8"):
        raise _Malformed("no SOI")
    out = [b"\xff\xd8"]
    pos, end = 2, len(data)
    while True:
        if pos >= end or data[pos] != 0xFF:
            raise _Malformed("expected a marker")
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            raise _Malformed("truncated")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue  # a stray standalone marker outside a scan carries nothing
        if pos + 2 > end:
            raise _Malformed("truncated")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            raise _Malformed("bad segment length")
        body = data[pos + 2 : pos + length]
        pos += length
        if marker == _SOS:
            out.append(b"\xff\xda" + length.to_bytes(2, "big") + body)
            scan_end = _scan_end(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end
        elif marker in _JPEG_IMAGE_MARKERS:
            out.append(bytes((0xFF, marker)) + length.to_bytes(2, "big") + body)
        elif marker == _APP0 and body.startswith(b"JFIF\x00") and len(body) >= 12:
            # Version, units and density only: a JFIF thumbnail can show what the photo was cropped from.
            out.append(b"\xff\xe0\x00\x10" + body[:12] + b"\x00\x00")
        elif marker == _APP14 and body.startswith(b"Adobe") and len(body) >= 12:
            out.append(b"\xff\xee\x00\x0e" + body[:12])  # tells how to read CMYK / YCCK colours


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends (at the next real marker)."""
    while True:
        found = data.find(b"\xff", pos)
        if found < 0 or found + 1 >= len(data):
            raise _Malformed("scan without an end")
        following = data[found + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = found + 2  # a stuffed 0xFF byte or a restart marker: still inside the scan
        else:
            return found


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that draw the picture (including APNG frames and colour rendering); text, eXIf, iCCP,
# tIME, sPLT and private chunks are dropped.
_PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD", b"hIST", b"pHYs"}
    | {b"cICP", b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT"}
)


def _strip_png(data: bytes) -> bytes:
    """Keep the chunks that draw the picture, byte for byte (CRCs included), up to IEND."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _Malformed("no PNG signature")
    out = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk_end = pos + 12 + length
        if chunk_end > len(data):
            raise _Malformed("truncated chunk")
        if kind in _PNG_KEEP:
            out.append(data[pos:chunk_end])
        pos = chunk_end
        if kind == b"IEND":
            return b"".join(out)
    raise _Malformed("no IEND")


# WebP VP8X flags for an ICC profile, EXIF and XMP; they are cleared with the chunks they announce.
_VP8X_METADATA_FLAGS = 0x20 | 0x08 | 0x04
_WEBP_KEEP = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})


def _strip_webp(data: bytes) -> bytes:
    """Drop the ICCP, EXIF and XMP chunks (and any unknown one) of a WebP file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _Malformed("not RIFF WEBP")
    riff_end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    chunks = []
    pos = 12
    while pos + 8 <= riff_end:
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunk_end = pos + 8 + size + (size & 1)
        if pos + 8 + size > riff_end:
            raise _Malformed("truncated chunk")
        chunk = data[pos : min(chunk_end, riff_end)]
        if kind == b"VP8X" and size >= 1:
            chunk = chunk[:8] + bytes((chunk[8] & ~_VP8X_METADATA_FLAGS,)) + chunk[9:]
        if kind in _WEBP_KEEP:
            chunks.append(chunk + b"\x00" * (len(chunk) & 1))
        pos = chunk_end
    if not chunks:
        raise _Malformed("no image chunk")
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


_LOSSLESS: dict[str, Callable[[bytes], bytes]] = {
    "JPEG": _strip_jpeg,
    "MPO": _strip_jpeg,
    "PNG": _strip_png,
    "WEBP": _strip_webp,
}
