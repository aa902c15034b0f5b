"""This project's default answer for the fake OpenAI server: one listing (a guitar)."""

from __future__ import annotations

from typing import Any

# What the fake answers when a test programmed nothing else.
DEFAULT_LISTING: dict[str, Any] = {
    "title": "Wooden acoustic guitar",
    "description": "A six-string acoustic guitar with a natural wood finish.",
    "category": "musical_instruments",
    "color": "brown",
    "brand": None,
    "condition": "used",
}
