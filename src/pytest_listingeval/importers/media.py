"""Files carried inside a source as data URLs: decode them and name their type by their content."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from urllib.parse import urlsplit

from pytest_listingeval.importers.model import Attachment

# The image types a case's `image:` may be (see docs/contracts.md), told by their first bytes
# (webp, a RIFF container, is told apart in image_suffix).
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)
_IMAGE_URL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".svg", ".avif", ".heic")


class MediaError(ValueError):
    """A data URL that cannot become a file; the message is the kind of problem, for the report."""


def image_suffix(data: bytes) -> str | None:
    """`.png`, `.jpg`, `.gif` or `.webp` when the bytes are such an image, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return next((suffix for magic, suffix in _IMAGE_SIGNATURES if data.startswith(magic)), None)


def is_data_url(text: str) -> bool:
    """Whether the text is a `data:` URL."""
    return text[:5].lower() == "data:"


def decode_data_url(url: str) -> Attachment:
    """The file in a base64 data URL; an image must really be a png, jpeg, gif or webp (raises MediaError)."""
    header, comma, payload = url.partition(",")
    params = header[5:].split(";")
    media_type = params[0].strip().lower() or "text/plain"
    if not comma or "base64" not in (p.strip().lower() for p in params[1:]):
        raise MediaError("data URL not in base64")
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError("data URL with bad base64") from exc
    if media_type.startswith("image/"):
        suffix = image_suffix(data)
        if suffix is None:
            raise MediaError("data URL image that is not a png, jpeg, gif or webp")
        return Attachment(data, suffix)
    guessed = mimetypes.guess_extension(media_type, strict=False)
    if guessed is None:
        raise MediaError(f"data URL of an unknown type ({media_type})")
    return Attachment(data, guessed)


def is_remote_image(text: str) -> bool:
    """Whether the text is an http(s) URL of an image file (going by its path's suffix)."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:  # a malformed URL (a bad IPv6 host) is text, not an image
        return False
    return parts.scheme.lower() in ("http", "https") and parts.path.lower().endswith(_IMAGE_URL_SUFFIXES)
