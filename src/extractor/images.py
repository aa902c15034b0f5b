"""Image intake: validate an upload and turn it into the bytes sent to the model."""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from extractor.errors import InvalidImageError

# Pixels above this are refused before decoding (Pillow's own bomb check warns at half of it).
MAX_PIXELS = 64_000_000
MIN_SIDE = 8
JPEG_QUALITY = 88


@dataclass(frozen=True)
class PreparedImage:
    """The re-encoded image sent to the model, with its hash and size."""

    data: bytes
    mime: str
    width: int
    height: int
    source_sha256: str
    # The source's size in pixels as encoded (before orientation and downscaling).
    source_width: int
    source_height: int

    @property
    def sha256(self) -> str:
        """sha256 of the bytes actually sent."""
        return hashlib.sha256(self.data).hexdigest()

    def data_url(self) -> str:
        """A `data:` URL for the Responses API `input_image` part."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def prepare_image(
    raw: bytes, *, max_side: int = 1024, max_bytes: int = 20 * 1024 * 1024, draft: bool = False
) -> PreparedImage:
    """Validate, orient, flatten and downscale an image; raise InvalidImageError when unusable.

    With `draft`, a JPEG is decoded at a reduced scale close to `max_side` (every block is still
    decoded, so damage is still found): a cheap check of what the full preparation accepts.
    """
    if not raw:
        raise InvalidImageError("the file is empty")
    if len(raw) > max_bytes:
        raise InvalidImageError(f"the file is {len(raw)} bytes, over the {max_bytes}-byte limit")
    image, (width, height) = _open(raw, max_side if draft else None)
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(f"the image is {width}x{height} px; at least {MIN_SIDE} px a side is needed")
    try:
        image = ImageOps.exif_transpose(image) or image
        image = _to_rgb(image)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidImageError(f"the image is damaged: {exc}") from exc
    return PreparedImage(
        data=out.getvalue(),
        mime="image/jpeg",
        width=image.width,
        height=image.height,
        source_sha256=hashlib.sha256(raw).hexdigest(),
        source_width=width,
        source_height=height,
    )


def _open(raw: bytes, draft_side: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image and its size as stored (a draft decode makes the image itself smaller)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidImageError(f"the image is {width}x{height} px, over the {MAX_PIXELS:,}-pixel limit")
            if draft_side is not None and image.format == "JPEG":
                image.draft(image.mode, (draft_side, draft_side))
            image.load()
        except InvalidImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidImageError(f"the image is too large to decode safely: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise InvalidImageError("the file is not an image Pillow can read") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidImageError(f"the image is truncated or damaged: {exc}") from exc
    if getattr(image, "is_animated", False):
        image.seek(0)
    return image, (width, height)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white and convert any mode (CMYK, 16-bit, palette) to RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
