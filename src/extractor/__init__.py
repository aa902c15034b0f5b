"""The listing extractor: a photo in, a structured marketplace listing out."""

from __future__ import annotations

from extractor.outcome import Extraction, ExtractionFailure, Usage
from extractor.schema import Category, Color, Condition, Listing

__all__ = [
    "Category",
    "Color",
    "Condition",
    "Extraction",
    "ExtractionFailure",
    "Listing",
    "Usage",
]
