"""Finding an image already in the eval set: the same bytes, or the same picture resized or re-encoded."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

# Perceptual hash (pHash, 64 bits) distance at or under which two images are the same picture. On the
# demo set, resizing (0.5x to 1.7x) and JPEG re-encoding (quality 70) move the hash by at most 4 bits,
# while the closest two different pictures are 14 bits apart.
PHASH_MAX_DISTANCE = 8
# pHash ignores colour, so a near-duplicate must also have nearly the same mean colour (0..255 per channel).
MEAN_COLOUR_MAX_DIFFERENCE = 24.0
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a picture: its bytes' sha256, its perceptual hash and its mean colour."""

    sha256: str
    phash: imagehash.ImageHash
    mean: tuple[float, float, float]


def _flatten(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def fingerprint(data: bytes) -> Fingerprint:
    """The fingerprint of an encoded image (transparency flattened onto white, as the extractor does)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.seek(0)
        image = _flatten(opened)
    pixel = image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    mean = (float(pixel[0]), float(pixel[1]), float(pixel[2]))
    return Fingerprint(hashlib.sha256(data).hexdigest(), imagehash.phash(image), mean)


class ImageIndex:
    """Every image under the cases folder, to refuse a promoted image the eval set already holds."""

    def __init__(self, cases_dir: Path):
        self.entries: list[tuple[Path, Fingerprint | None, str]] = []
        if cases_dir.is_dir():
            for path in sorted(cases_dir.rglob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                    self.add(path, path.read_bytes())

    def add(self, path: Path, data: bytes) -> None:
        """Remember one image (an unreadable one still counts for exact duplicates)."""
        try:
            found: Fingerprint | None = fingerprint(data)
        except (OSError, ValueError, Image.DecompressionBombError):
            found = None
        self.entries.append((path, found, hashlib.sha256(data).hexdigest()))

    def duplicate_of(self, data: bytes) -> str | None:
        """Why this image is already in the set (naming the file), or None."""
        sha = hashlib.sha256(data).hexdigest()
        for path, _, other in self.entries:
            if other == sha:
                return f"the same image as {path.as_posix()} (sha256 {sha[:12]})"
        mine = fingerprint(data)
        for path, print_, _ in self.entries:
            if print_ is None:
                continue
            distance = int(mine.phash - print_.phash)
            colour = max(abs(a - b) for a, b in zip(mine.mean, print_.mean, strict=True))
            if distance <= PHASH_MAX_DISTANCE and colour <= MEAN_COLOUR_MAX_DIFFERENCE:
                return f"a near-duplicate of {path.as_posix()} (pHash distance {distance} <= {PHASH_MAX_DISTANCE})"
        return None
