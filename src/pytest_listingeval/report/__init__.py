"""Eval reports: a self-contained HTML page, a Markdown PR comment and pytest-html extras."""

from __future__ import annotations

from pytest_listingeval.report.html import render_html, write_html
from pytest_listingeval.report.markdown import append_step_summary, render_markdown
from pytest_listingeval.report.pytest_html import PytestHtmlEvalExtras, case_extras

__all__ = [
    "PytestHtmlEvalExtras",
    "append_step_summary",
    "case_extras",
    "render_html",
    "render_markdown",
    "write_html",
]
