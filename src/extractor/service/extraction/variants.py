"""Deterministic, sticky assignment of a user to a variant by a salted hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from extractor.service.config import Variant


def bucket(salt: str, user_id: str) -> float:
    """A number uniform in [0, 1) fixed by the salt and the user id."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(variants: Sequence[Variant], salt: str, user_id: str) -> Variant:
    """The variant this user sees: the bucket falls into the cumulative weight ranges."""
    total = sum(v.weight for v in variants)
    point = bucket(salt, user_id) * total
    cumulative = 0.0
    for variant in variants:
        cumulative += variant.weight
        if point < cumulative and variant.weight > 0:
            return variant
    # Rounding can leave the point a hair above the last boundary.
    return next(v for v in reversed(variants) if v.weight > 0)
