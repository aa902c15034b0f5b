"""Pixels of RGB images as (r, g, b), which Pillow's types cannot tell from other modes' values."""

from __future__ import annotations

from PIL import Image


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    """The (r, g, b) of one pixel of an RGB image; fails the test for an image of another mode."""
    pixel = image.getpixel(xy)
    assert image.mode == "RGB" and isinstance(pixel, tuple), f"not an RGB pixel: {pixel!r} (mode {image.mode})"
    r, g, b = pixel
    return r, g, b
