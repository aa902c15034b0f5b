"""Images made on the fly with Pillow for the image-intake tests (good, odd and broken)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def solid(path: Path, size: tuple[int, int] = (64, 48), color: tuple[int, ...] = (200, 30, 30)) -> Path:
    """A single-colour RGB image; the format follows the suffix."""
    Image.new("RGB", size, color).save(path)
    return path


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    """A small RGB JPEG in memory."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=90)
    return out.getvalue()


def empty(path: Path) -> Path:
    """A 0-byte file."""
    path.write_bytes(b"")
    return path


def text_as_jpeg(path: Path) -> Path:
    """A text file with an image suffix."""
    path.write_text("this is not a photo\n" * 20, encoding="utf-8")
    return path


def truncated_jpeg(path: Path) -> Path:
    """The first half of a real JPEG."""
    data = jpeg_bytes((256, 256))
    path.write_bytes(data[: len(data) // 2])
    return path


def huge_png(path: Path, side: int = 12000) -> Path:
    """A side x side 1-bit PNG: cheap to write (about 18 MB in memory), huge once decoded."""
    Image.new("1", (side, side), 1).save(path, optimize=False)
    return path


def cmyk_jpeg(path: Path) -> Path:
    """A CMYK JPEG (as print workflows produce)."""
    Image.new("CMYK", (64, 48), (0, 200, 200, 0)).save(path, format="JPEG")
    return path


def png_16bit(path: Path) -> Path:
    """A 16-bit greyscale PNG with a horizontal gradient."""
    image = Image.new("I;16", (64, 48))
    image.putdata([(x * 1000) % 65536 for _ in range(48) for x in range(64)])
    image.save(path, format="PNG")
    return path


def animated_gif(path: Path) -> Path:
    """A two-frame GIF: red first, blue second."""
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def exif_rotated_jpeg(path: Path, size: tuple[int, int] = (120, 60)) -> Path:
    """A landscape JPEG whose EXIF says "rotate 90 degrees" (orientation 6): it shows portrait."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", size, (0, 160, 0)).save(path, format="JPEG", exif=exif.tobytes())
    return path


def transparent_png(path: Path) -> Path:
    """An RGBA PNG, fully transparent black: flattened onto white it must come out white."""
    Image.new("RGBA", (64, 48), (0, 0, 0, 0)).save(path, format="PNG")
    return path


def oversized(path: Path, size_bytes: int) -> Path:
    """A file of `size_bytes` that starts like a PNG (its size alone must reject it)."""
    head = io.BytesIO()
    Image.new("RGB", (16, 16)).save(head, format="PNG")
    data = head.getvalue()
    path.write_bytes(data + b"\0" * (size_bytes - len(data)))
    return path


def decode(data: bytes) -> Image.Image:
    """Open image bytes (as the fake server received them)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
