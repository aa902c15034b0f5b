"""Unit tests of the pytest-html summary hook and per-case extras."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import PytestHtmlEvalExtras, case_extras
from pytest_listingeval.report.run_view import UNSCORABLE
from tests.plugin.report_fixtures import (
    JUDGE_FAIL,
    NOT_RUN,
    XSS,
    inconclusive_outcome,
    outcome_of,
    partial_outcome,
    regression_data,
    regression_outcome,
    write_images,
)


def test_summary_hook_adds_to_prefix() -> None:
    outcome = regression_outcome()
    plugin = PytestHtmlEvalExtras(lambda: outcome)
    prefix: list[str] = []
    summary: list[str] = []
    postfix: list[str] = []
    plugin.pytest_html_results_summary(prefix, summary, postfix, session=None)
    assert len(prefix) == 1
    assert summary == [] and postfix == []
    html = prefix[0]
    assert "listingeval: regression" in html
    assert "background: #cf222e" in html
    for name in ("category", "color", "overall", "exact cases"):
        assert f">{name}<" in html
    assert "\u221212.5" in html
    assert "40 cases · 2 errors · 1 harness error" in html


def test_summary_hook_silent_without_outcome() -> None:
    prefix: list[str] = []
    PytestHtmlEvalExtras(lambda: None).pytest_html_results_summary(prefix, [], [], None)
    assert prefix == []


def test_case_extras(tmp_path: Path) -> None:
    outcome = regression_outcome()
    write_images(tmp_path, outcome)
    extras = case_extras(outcome.cases[1], tmp_path)
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
    case = regression_outcome().cases[39]
    extras = case_extras(case, tmp_path)
    assert [e["format_type"] for e in extras] == ["html"]


def test_case_extras_without_pillow_have_no_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = regression_outcome()
    write_images(tmp_path, outcome)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails as if it were not installed
    extras = case_extras(outcome.cases[1], tmp_path)
    assert [e["format_type"] for e in extras] == ["html"]
    assert "contains_all failed" in str(extras[0]["content"])


def test_case_extras_of_a_harness_error(tmp_path: Path) -> None:
    html = str(case_extras(regression_outcome().cases[30], tmp_path)[-1]["content"])
    assert "<strong>harness error</strong>: missing cassette" in html


def test_report_package_does_not_import_pytest_html() -> None:
    code = (
        "import sys; import pytest_listingeval.report, pytest_listingeval.report.pytest_html; "
        "print('pytest_html' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_terminal_summary_does_not_import_the_renderers() -> None:
    code = "import sys; import pytest_listingeval.terminal; print('jinja2' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def _summary(outcome: RunOutcome) -> str:
    prefix: list[str] = []
    PytestHtmlEvalExtras(lambda: outcome).pytest_html_results_summary(prefix, [], [], None)
    return prefix[0]


def test_summary_counts_inconclusive_and_flaky() -> None:
    html = _summary(inconclusive_outcome())
    assert "listingeval: inconclusive" in html
    assert "background: #9a6700" in html
    assert "color dropped 83.3% \u2192 78.3% (p = 0.12 &gt; alpha 0.05): add repeats or cases" in html
    assert "Gate: significant · alpha 0.05 · tolerance 1.0 pts · 3 repeats per case" in html
    assert "inconclusive: 1 · flaky: 4 (electronics/item-00: color 2/3," in html
    assert ">p drop (gate)<" in html
    assert ">95% CI<" in html
    assert "background: #fff8c5" in html  # the inconclusive color row


def test_summary_of_a_strict_run() -> None:
    html = _summary(regression_outcome())
    assert "Gate: strict · alpha 0.05 · tolerance 0.0 pts · inconclusive: 0 · flaky: 0" in html
    assert ">p-value<" in html
    assert "listingeval-partial" not in html


def test_summary_lists_relabels_and_cases_left_out() -> None:
    html = _summary(regression_outcome())
    relabels = html[html.index('class="listingeval-relabels"') :]
    relabels = relabels[: relabels.index("</p>")]
    assert "Relabelled (2): sports_outdoors/item-13: color red → brown; " in relabels
    assert (
        "home_garden/item-20: brand Acme → null, description contains_any: lamp → "
        "contains_any: home_garden, item &amp; max_len: 600 (critical fields changed)"
    ) in relabels
    assert f"Not compared, {UNSCORABLE} (1): home_garden/item-11" in html
    assert "Not compared, harness error, left out of the comparison (1): fashion/item-30" in html


def test_summary_says_partial() -> None:
    html = _summary(partial_outcome())
    assert "listingeval: pass</strong>" in html
    assert "background: #1a7f37" in html
    assert (
        '<strong class="listingeval-partial" style="color: #9a6700;">partial: 12 of 58 cases, 1 baseline case gone'
        in html
    )
    coverage = html[html.index('class="listingeval-coverage"') :]
    assert f"in the baseline, not run (3): {', '.join(NOT_RUN)}" in coverage
    assert "in the baseline, no longer in the case set (1): retired/old-lamp" in coverage


def test_summary_colour_comes_from_the_verdict() -> None:
    data = regression_data(6)
    data["verdict"] = "incomplete"
    html = _summary(outcome_of(data))
    assert "listingeval: incomplete" in html
    assert "background: #57606a" in html


def test_case_extras_flaky_field_and_judge(tmp_path: Path) -> None:
    case = inconclusive_outcome().cases[4]
    html = str(case_extras(case, tmp_path)[-1]["content"])
    assert "#fff8c5" in html  # amber: passed in some repeats
    assert "1/3 repeats: ✗ An item. · ✓ A used sports item. · ✗ Nice." in html
    assert f"<strong>judge:</strong> {JUDGE_FAIL}" in html
