"""Eval reports: a self-contained HTML page, a Markdown PR comment and pytest-html extras.

The renderers load on first use, so the terminal summary can share the view modules
without importing jinja2 and Pillow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_listingeval.report.html import render_html, write_html
    from pytest_listingeval.report.markdown import render_markdown
    from pytest_listingeval.report.pytest_html import PytestHtmlEvalExtras, case_extras, summary_html

_HOMES = {
    "PytestHtmlEvalExtras": "pytest_html",
    "case_extras": "pytest_html",
    "render_html": "html",
    "render_markdown": "markdown",
    "summary_html": "pytest_html",
    "write_html": "html",
}

__all__ = [
    "PytestHtmlEvalExtras",
    "case_extras",
    "render_html",
    "render_markdown",
    "summary_html",
    "write_html",
]


def __getattr__(name: str) -> Any:
    """Import a renderer the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
