"""Unit tests of the pytest-html summary hook and per-case extras."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_listingeval.report import PytestHtmlEvalExtras, case_extras

try:
    from tests.plugin.report_fixtures import XSS, regression_results, write_images
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from report_fixtures import XSS, regression_results, write_images  # type: ignore[no-redef]


def test_summary_hook_adds_to_prefix() -> None:
    results = regression_results()
    plugin = PytestHtmlEvalExtras(lambda: results)
    prefix: list[str] = []
    summary: list[str] = []
    postfix: list[str] = []
    plugin.pytest_html_results_summary(prefix, summary, postfix, session=None)
    assert len(prefix) == 1
    assert summary == [] and postfix == []
    html = prefix[0]
    assert "listingeval: regression" in html
    for name in ("category", "color", "overall", "exact cases"):
        assert f">{name}<" in html
    assert "\u221212.5" in html


def test_summary_hook_silent_without_results() -> None:
    prefix: list[str] = []
    PytestHtmlEvalExtras(lambda: None).pytest_html_results_summary(prefix, [], [], None)
    assert prefix == []


def test_case_extras(tmp_path: Path) -> None:
    results = regression_results()
    write_images(tmp_path, results)
    case: dict[str, Any] = results["cases"][1]
    extras = case_extras(case, tmp_path)
    kinds = [e["format_type"] for e in extras]
    assert kinds == ["image", "html"]
    image = extras[0]
    assert image["mime_type"] == "image/jpeg"
    assert image["extension"] == "jpg"
    assert base64.b64decode(str(image["content"]), validate=True)[:2] == b"\xff\xd8"
    html = str(extras[1]["content"])
    assert XSS not in html
    assert "&lt;script&gt;" in html
    assert "contains_all failed" in html
    assert set(image) == {"name", "format_type", "content", "mime_type", "extension"}


def test_case_extras_without_image(tmp_path: Path) -> None:
    case = regression_results()["cases"][39]
    extras = case_extras(case, tmp_path)
    assert [e["format_type"] for e in extras] == ["html"]


def test_report_package_does_not_import_pytest_html() -> None:
    code = (
        "import sys; import pytest_listingeval.report, pytest_listingeval.report.pytest_html; "
        "print('pytest_html' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
