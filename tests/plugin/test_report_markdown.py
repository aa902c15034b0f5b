"""Unit tests of the Markdown PR comment and the GitHub step summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.report import append_step_summary, render_markdown
from pytest_listingeval.report.formatting import alpha, p_short
from pytest_listingeval.report.markdown import MAX_FLAKY, MAX_FLIPS, escape_cell

try:
    from tests.plugin.report_fixtures import FIELDS, inconclusive_results, passing_results, regression_results
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from report_fixtures import (  # type: ignore[no-redef]
        FIELDS,
        inconclusive_results,
        passing_results,
        regression_results,
    )

SENTENCE = "color dropped 83.3% \u2192 78.3% (p = 0.12 > alpha 0.05): add repeats or cases"


@pytest.fixture
def results() -> dict[str, Any]:
    return regression_results()


def test_verdict_line(results: dict[str, Any]) -> None:
    text = render_markdown(results)
    first = text.splitlines()[0]
    assert first.startswith("**listingeval: regression** on color (-12.5 pts)")
    assert "critical misses: electronics/item-18 (category)" in first
    assert "1 harness error" in first


def test_fields_and_table(results: dict[str, Any]) -> None:
    text = render_markdown(results)
    for name in FIELDS:
        assert any(line.startswith(f"| {name} ") or line.startswith(f"| **{name}**") for line in text.splitlines()), (
            name
        )
    assert "| **color** | 92.5% | 80.0% | -12.5 | 5/0 | 0.031 (sig.) | 71.0\u201387.0% |" in text
    assert "| field | baseline | current | Δ pts | flips ↓/↑ | p-value | 95% CI |" in text
    assert "| overall |" not in text  # regressed: bold
    assert "| **overall** | 90.3% | 88.3% | -2.0 | \u2013 | \u2013 | \u2013 |" in text
    assert "Gate:" not in text  # an old dict without a gate mode
    assert "| exact cases |" in text
    assert "gpt-4.1 → **gpt-4.1-mini**" in text


def test_flips_truncated_at_ten(results: dict[str, Any]) -> None:
    text = render_markdown(results)
    flips = results["comparison"]["flips"]
    assert len(flips) > MAX_FLIPS
    listed = [line for line in text.splitlines() if line.startswith(("- regressed:", "- improved:"))]
    assert len(listed) == MAX_FLIPS
    assert f"and {len(flips) - MAX_FLIPS} more" in text
    assert "- regressed: fashion/item-03, color: red → orange" in text
    # regressions come before improvements in the short list
    assert all(line.startswith("- regressed:") for line in listed)


def test_totals_and_link(results: dict[str, Any]) -> None:
    text = render_markdown(results, report_url="https://ci.example/run/1/report.html")
    assert "40 cases · 2 errors · 40,095 tokens · est. cost $0.0213" in text
    assert "2 added, 1 removed cases" in text
    assert "[Full HTML report](https://ci.example/run/1/report.html)" in text
    assert "Full HTML report" not in render_markdown(results)


def test_cells_escape_pipes_and_newlines() -> None:
    assert escape_cell("a|b\nc") == "a\\|b c"
    assert escape_cell("<script>") == "&lt;script&gt;"
    assert len(escape_cell("x" * 500)) <= 80


def test_field_name_with_pipe_stays_in_one_cell(results: dict[str, Any]) -> None:
    results["summary"]["fields"]["odd|name\nx"] = {"accuracy": 0.5, "n": 2}
    text = render_markdown(results)
    row = next(line for line in text.splitlines() if line.startswith("| odd"))
    assert row.startswith("| odd\\|name x |")
    assert row.replace("\\|", "").count("|") == 8


def test_passing_run() -> None:
    text = render_markdown(passing_results())
    assert text.startswith("**listingeval: pass**")
    assert "Flipped" not in text


def test_step_summary_appends(results: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    text = render_markdown(results)
    append_step_summary(text)
    content = target.read_text(encoding="utf-8")
    assert content.startswith("# earlier step\n")
    assert content.endswith(text)


def test_step_summary_noop_without_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    append_step_summary("hello")
    assert list(tmp_path.iterdir()) == []


def test_inconclusive_verdict_line() -> None:
    first = render_markdown(inconclusive_results()).splitlines()[0]
    assert first == (
        f"**listingeval: inconclusive** (the gate passes): {SENTENCE}. "
        "Overall 89.2% vs 91.2% on main:reports/baseline.json."
    )


def test_inconclusive_beside_a_regression_is_named() -> None:
    results = inconclusive_results()
    results.update(verdict="regression", regressions=[{"field": "brand", "baseline": 0.9, "current": 0.8}])
    first = render_markdown(results).splitlines()[0]
    assert first.startswith(f"**listingeval: regression** on brand (-10.0 pts); inconclusive: {SENTENCE}.")


def test_significant_mode_table_says_which_p() -> None:
    text = render_markdown(inconclusive_results())
    assert (
        "Gate: significant · alpha 0.05 · tolerance 1.0 pts · 3 repeats per case. "
        "p is the one-sided test of a drop, the p the significant gate uses" in text
    )
    assert "| field | baseline | current | Δ pts | flips ↓/↑ | p drop (gate) | 95% CI |" in text
    assert "| _color_ (inconclusive) | 83.3% | 78.3% | -5.0 | 3/0 | 0.120 | 66.3\u201386.3% |" in text
    assert "0.240" not in text  # the two-sided p is not the one the gate used


def test_flaky_line() -> None:
    text = render_markdown(inconclusive_results())
    assert (
        "**Flaky (4):** electronics/item-00: color (2/3), home_garden/item-02: category (2/3), "
        "sports_outdoors/item-04: description (1/3), toys_games/item-06: brand (2/3)\n"
    ) in text
    assert "Totals: 20 cases \u00d7 3 repeats · 1 errors" in text


def test_flaky_line_truncated_and_read_from_summary() -> None:
    results = inconclusive_results()
    flaky = [{"case": f"c/{i:02d}", "field": "color", "pass_rate": 0.333333} for i in range(MAX_FLAKY + 3)]
    del results["flaky"]
    results["summary"]["flaky"] = flaky
    line = next(x for x in render_markdown(results).splitlines() if x.startswith("**Flaky"))
    # unknown cases: the count comes from the rate and summary.repeats
    assert line.startswith("**Flaky (13):** c/00: color (1/3), c/01: color (1/3), ")
    assert line.count("c/") == MAX_FLAKY
    assert line.endswith(" and 3 more")


def test_old_dict_without_new_keys() -> None:
    results = regression_results(6)
    for key in ("comparison", "baseline", "regressions"):
        results[key] = None
    text = render_markdown(results)
    assert "Flaky" not in text
    assert "inconclusive" not in text
    assert "| p-value | 95% CI |" in text


def test_p_value_in_sentences() -> None:
    assert p_short(0.12) == "0.12"
    assert p_short(0.0501) == "0.0501"  # never "0.05 > alpha 0.05"
    assert p_short(0.0004) == "<0.001"
    assert p_short(None) == "\u2013"
    assert alpha(0.05) == "0.05"
    assert alpha(0.1) == "0.1"
