"""Unit tests of the Markdown PR comment and the GitHub step summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.report import append_step_summary, render_markdown
from pytest_listingeval.report.markdown import MAX_FLIPS, escape_cell

try:
    from tests.plugin.report_fixtures import FIELDS, passing_results, regression_results
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from report_fixtures import (  # type: ignore[no-redef]
        FIELDS,
        passing_results,
        regression_results,
    )


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
    assert "| **color** | 92.5% | 80.0% | -12.5 | 5/0 | 0.031 (sig.) |" in text
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
    assert row.replace("\\|", "").count("|") == 7


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
