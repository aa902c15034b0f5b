"""Exceptions raised for bad configuration or bad input (not model or API faults)."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration names something that does not exist (prompt, model, setting)."""


class InvalidImageError(Exception):
    """The uploaded file cannot be used as an image; the message says why."""
