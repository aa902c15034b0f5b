"""Turning a reviewed or published production extraction into an eval case (`listingeval cases promote`)."""

from __future__ import annotations

from extractor.promote.core import Origin, Promoted, PromoteError, Promoter

__all__ = ["Origin", "PromoteError", "Promoted", "Promoter"]
