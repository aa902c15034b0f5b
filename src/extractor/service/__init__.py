"""The production service: A/B variants, extraction logs, feedback, metrics and a dashboard."""

from __future__ import annotations
