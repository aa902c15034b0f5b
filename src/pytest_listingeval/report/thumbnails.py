"""Small JPEG thumbnails of case images, base64-encoded for self-contained reports.

Pillow is optional: without it reports carry no thumbnails (never a full-size photo, which
could make a report of many cases hundreds of megabytes).
"""

from __future__ import annotations

import base64
import importlib.util
import io
from functools import lru_cache
from pathlib import Path

THUMB_SIZE = 160
THUMB_MIME = "image/jpeg"
_QUALITY = 72


@lru_cache(maxsize=512)
def _encode(path: str, mtime_ns: int, size: int, box: int) -> str | None:
    # mtime_ns and size are part of the cache key so an edited image is re-encoded.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
            rgba = img.convert("RGBA") if has_alpha else img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    if has_alpha:
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        rgba = flat
    rgba.thumbnail((box, box), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgba.save(out, format="JPEG", quality=_QUALITY, optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def thumbnails_available() -> bool:
    """True when Pillow, which makes the thumbnails, is installed."""
    return importlib.util.find_spec("PIL") is not None


def thumbnail_base64(path: Path, box: int = THUMB_SIZE) -> str | None:
    """Return a base64 JPEG thumbnail (longest side `box` px) of an image, or None if unreadable or without Pillow."""
    if not thumbnails_available():
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return _encode(str(path.resolve()), stat.st_mtime_ns, stat.st_size, box)


def thumbnail_data_uri(path: Path, box: int = THUMB_SIZE) -> str | None:
    """Return a `data:` URI of the image's thumbnail, or None if the image is missing or without Pillow."""
    encoded = thumbnail_base64(path, box)
    return f"data:{THUMB_MIME};base64,{encoded}" if encoded else None


def resolve_image(root: Path, image: object) -> Path | None:
    """Resolve a case's image path (relative to the run root) or return None."""
    if not isinstance(image, str) or not image:
        return None
    path = Path(image)
    return path if path.is_absolute() else root / path
