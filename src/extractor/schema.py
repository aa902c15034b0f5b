"""The listing schema the model fills in (a contract: docs/contracts.md, section 1)."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Category(StrEnum):
    """Marketplace category of the item."""

    ELECTRONICS = "electronics"
    FURNITURE = "furniture"
    HOME_GARDEN = "home_garden"
    FASHION = "fashion"
    SPORTS_OUTDOORS = "sports_outdoors"
    MUSICAL_INSTRUMENTS = "musical_instruments"
    TOYS_GAMES = "toys_games"
    VEHICLES = "vehicles"
    BOOKS_MEDIA = "books_media"
    TOOLS_DIY = "tools_diy"
    COLLECTIBLES_ART = "collectibles_art"
    OTHER = "other"


class Color(StrEnum):
    """Dominant colour of the item."""

    BLACK = "black"
    WHITE = "white"
    GREY = "grey"
    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    GREEN = "green"
    BLUE = "blue"
    PURPLE = "purple"
    PINK = "pink"
    BROWN = "brown"
    BEIGE = "beige"
    GOLD = "gold"
    SILVER = "silver"
    MULTICOLOR = "multicolor"


class Condition(StrEnum):
    """Visible condition of the item."""

    NEW = "new"
    LIKE_NEW = "like_new"
    USED = "used"
    FOR_PARTS = "for_parts"
    UNKNOWN = "unknown"


class Listing(BaseModel):
    """A marketplace listing as the model extracts it from one photo."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80, description="Short listing title.")
    description: str = Field(description="Two to four sentences a buyer would find useful.")
    category: Category
    color: Color = Field(description="Dominant colour of the item.")
    brand: str | None = Field(description="Brand name if visible on the item, else null.")
    condition: Condition


def listing_json_schema() -> dict[str, Any]:
    """The JSON schema of `Listing`, as sent to the model."""
    return Listing.model_json_schema()


def schema_id() -> str:
    """First 8 hex digits of the sha256 of the canonical JSON schema."""
    canonical = json.dumps(listing_json_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]
