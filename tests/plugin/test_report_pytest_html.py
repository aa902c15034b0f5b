"""Unit tests of the pytest-html summary hook and per-case extras."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_listingeval.report import PytestHtmlEvalExtras, case_extras

try:
    from tests.plugin.report_fixtures import JUDGE_FAIL, XSS, inconclusive_results, regression_results, write_images
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from report_fixtures import (  # type: ignore[no-redef]
        JUDGE_FAIL,
        XSS,
        inconclusive_results,
        regression_results,
        write_images,
    )


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


def _summary(results: dict[str, Any]) -> str:
    prefix: list[str] = []
    PytestHtmlEvalExtras(lambda: results).pytest_html_results_summary(prefix, [], [], None)
    return prefix[0]


def test_summary_counts_inconclusive_and_flaky() -> None:
    html = _summary(inconclusive_results())
    assert "listingeval: inconclusive" in html
    assert "background: #9a6700" in html
    assert "color dropped 83.3% \u2192 78.3% (p = 0.12 &gt; alpha 0.05): add repeats or cases" in html
    assert "Gate: significant · alpha 0.05 · tolerance 1.0 pts · 3 repeats per case" in html
    assert "inconclusive: 1 · flaky: 4 (electronics/item-00: color 2/3," in html
    assert ">p drop (gate)<" in html
    assert ">95% CI<" in html
    assert "background: #fff8c5" in html  # the inconclusive color row


def test_summary_of_old_dict_has_no_counts() -> None:
    html = _summary(regression_results())
    assert "listingeval-counts" not in html
    assert ">p-value<" in html


def test_case_extras_flaky_field_and_judge(tmp_path: Path) -> None:
    case = inconclusive_results()["cases"][4]
    html = str(case_extras(case, tmp_path)[-1]["content"])
    assert "#fff8c5" in html  # amber: passed in some repeats
    assert "1/3 repeats: ✗ An item. · ✓ A used sports item. · ✗ Nice." in html
    assert f"<strong>judge:</strong> {JUDGE_FAIL}" in html
