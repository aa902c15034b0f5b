"""Input-token cost of an image, from OpenAI's published formulas (not from the fake server).

The fake server's `usage` is a rough stand-in (text/4 plus a flat 85 per image): it says
nothing about real cost, so this module computes image tokens from the two formulas in
OpenAI's "Images and vision" guide, section "Calculating costs":

* tile formula (GPT-4o, GPT-4.1, GPT-4.5 class): `detail: low` costs the base (85 tokens);
  `high` (and `auto`, which OpenAI may resolve to high; we count it as high, the worst
  case) scales the image to fit in 2048x2048, then down so its shortest side is at most
  768 px, and costs 85 + 170 per 512 px tile covering it;
* patch formula (gpt-4.1-mini, gpt-4.1-nano, o4-mini): 32x32 px patches covering the
  image, shrunk to at most 1536 patches, times a model multiplier (1.62 for gpt-4.1-mini).
  The guide documents no `detail: low` variant for these models.

Both are the published formulas; users on OpenAI's forum report billed counts that differ
from them for some models, so treat the figures as the documented price, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TILE_BASE, TILE_PER_TILE = 85, 170
PATCH, PATCH_BUDGET = 32, 1536
PATCH_MULTIPLIER = {"gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46, "o4-mini": 1.72}


def fit(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The size after the extractor's `thumbnail((max_side, max_side))` (never upscales)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def tile_tokens(width: int, height: int, detail: str) -> int:
    """Tile formula: 85 at low; 85 + 170 per 512 px tile at high/auto."""
    if detail == "low":
        return TILE_BASE
    if max(width, height) > 2048:
        scale = 2048 / max(width, height)
        width, height = math.floor(width * scale), math.floor(height * scale)
    if min(width, height) > 768:
        scale = 768 / min(width, height)
        width, height = math.floor(width * scale), math.floor(height * scale)
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    return TILE_BASE + TILE_PER_TILE * tiles


def patch_tokens(width: int, height: int, model: str = "gpt-4.1-mini") -> int:
    """Patch formula: 32 px patches, at most 1536 after shrinking, times the model multiplier."""
    patches = math.ceil(width / PATCH) * math.ceil(height / PATCH)
    if patches > PATCH_BUDGET:
        shrink = math.sqrt(PATCH * PATCH * PATCH_BUDGET / (width * height))
        # shrink a little more so whole patches cover each side (the guide's step B)
        shrink *= min(
            math.floor(width * shrink / PATCH) / (width * shrink / PATCH),
            math.floor(height * shrink / PATCH) / (height * shrink / PATCH),
        )
        patches = min(
            PATCH_BUDGET, math.ceil(math.floor(width * shrink) / PATCH) * math.ceil(math.floor(height * shrink) / PATCH)
        )
    return math.ceil(patches * PATCH_MULTIPLIER.get(model, 1.0))


@dataclass(frozen=True)
class TokenRow:
    """Image tokens for one photo size, `max_side` and `detail`."""

    source: str
    sent: str
    max_side: int | None
    detail: str
    tile_tokens: int
    patch_tokens: int | None


def table(sizes: dict[str, tuple[int, int]], max_sides: list[int | None], details: list[str]) -> list[TokenRow]:
    """Every combination, for the README table."""
    rows = []
    for label, (width, height) in sizes.items():
        for max_side in max_sides:
            w, h = fit(width, height, max_side)
            for detail in details:
                rows.append(
                    TokenRow(
                        source=f"{label} {width}x{height}",
                        sent=f"{w}x{h}",
                        max_side=max_side,
                        detail=detail,
                        tile_tokens=tile_tokens(w, h, detail),
                        patch_tokens=None if detail == "low" else patch_tokens(w, h),
                    )
                )
    return rows
