"""Eval reports: a self-contained HTML page, a Markdown PR comment and pytest-html extras."""

from __future__ import annotations

from pytest_listingeval.report.html import render_html, write_html

__all__ = ["render_html", "write_html"]
