"""The version of a judge rubric: what ties a judge's verdicts to the rubric text they used."""

from __future__ import annotations

import hashlib


def rubric_version(text: str) -> str:
    """The first 12 hex digits of the sha256 of the rubric text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
