"""Which listing fields a seller corrected: a field-level diff after normalisation."""

from __future__ import annotations

from typing import Any

from extractor.schema import Listing
from pytest_listingeval import normalise as normalise_text

FIELDS: tuple[str, ...] = tuple(Listing.model_fields)


def normalise(value: Any) -> Any:
    """NFKC, casefold, trim and collapse whitespace in strings; empty strings become None."""
    if value is None:
        return None
    if isinstance(value, str):
        return normalise_text(value) or None
    return value


def corrected_fields(output: dict[str, Any] | None, final: dict[str, Any]) -> list[str]:
    """Fields whose published value differs from the model's; with no output, every filled field."""
    before = output or {}
    return [name for name in FIELDS if normalise(before.get(name)) != normalise(final.get(name))]
