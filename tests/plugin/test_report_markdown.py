"""Unit tests of the Markdown PR comment and the terminal summary, both read from the run's outcome."""

from __future__ import annotations

from typing import Any, cast

import pytest

from pytest_listingeval.report import render_markdown
from pytest_listingeval.report.escaping import JOINER
from pytest_listingeval.report.formatting import alpha, p_short
from pytest_listingeval.report.markdown import MAX_FLAKY, MAX_FLIPS, escape_cell, escape_inline
from pytest_listingeval.report.run_view import UNSCORABLE
from pytest_listingeval.terminal import terminal_text, write_summary
from tests.plugin.report_fixtures import (
    FIELDS,
    NOT_RUN,
    inconclusive_data,
    inconclusive_outcome,
    outcome_of,
    partial_data,
    partial_outcome,
    passing_outcome,
    regression_data,
    regression_outcome,
)

SENTENCE = "color dropped 83.3% \u2192 78.3% (p = 0.12 > alpha 0.05): add repeats or cases"


@pytest.fixture(scope="module")
def text() -> str:
    return render_markdown(regression_outcome())


def test_verdict_line(text: str) -> None:
    first = text.splitlines()[0]
    assert first.startswith("**listingeval: regression** on color (-12.5 pts), overall (-2.0 pts)")
    assert "critical misses: electronics/item-18 (category)" in first
    assert "1 harness error" in first
    assert "2 cases relabelled" in first


def test_fields_and_table(text: str) -> None:
    for name in FIELDS:
        assert any(line.startswith((f"| {name} ", f"| **{name}**")) for line in text.splitlines()), name
    assert "| **color** | 90.0% | 77.5% | -12.5 | 5/0 | 0.031 (sig.) | 68.5\u201384.5% |" in text
    assert "| field | baseline | current | Δ pts | flips ↓/↑ | p-value | 95% CI |" in text
    assert "| overall |" not in text  # regressed: bold
    assert "| **overall** | 87.8% | 85.8% | -2.0 | 11/2 | 0.042 (sig.) | \u2013 |" in text
    assert "| exact cases | 62.5% | 52.5% | -10.0 | 5/1 | 0.200 | \u2013 |" in text
    assert "Gate: strict · alpha 0.05 · tolerance 0.0 pts. p is two-sided" in text
    assert "gpt-4.1 → **gpt-4.1-mini**" in text


def test_flips_truncated_at_ten(text: str) -> None:
    outcome = regression_outcome()
    assert outcome.comparison is not None
    flips = outcome.comparison.flips
    assert len(flips) > MAX_FLIPS
    listed = [line for line in text.splitlines() if line.startswith(("- regressed:", "- improved:"))]
    assert len(listed) == MAX_FLIPS
    assert f"and {len(flips) - MAX_FLIPS} more" in text
    assert "- regressed: fashion/item-03, color: red → orange" in text
    # regressions come before improvements in the short list
    assert all(line.startswith("- regressed:") for line in listed)


def test_totals_and_link(text: str) -> None:
    linked = render_markdown(regression_outcome(), report_url="https://ci.example/run/1/report.html")
    assert "Totals: 40 cases · 2 errors · 1 harness error · 40,095 tokens · est. cost $0.0213" in text
    assert "2 added, 1 removed cases" in text
    assert "[Full HTML report](https://ci.example/run/1/report.html)" in linked
    assert "Full HTML report" not in text


def test_relabels_listed_with_before_and_after(text: str) -> None:
    lines = text.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("**Relabelled cases** (2)")))
    assert lines[head + 2 : head + 4] == [
        "- sports_outdoors/item-13: color: red → brown",
        "- home_garden/item-20: brand: Acme → null; description: contains_any: lamp → "
        "contains_any: home_garden, item &amp; max_len: 600; critical fields changed",
    ]


def test_every_relabel_is_listed() -> None:
    data = regression_data()
    data["comparison"]["relabels"] = [
        {"case": f"c/{i:02d}", "fields": ["color"], "before": {"color": "red"}, "after": {"color": "blue"}}
        for i in range(40)
    ]
    data["relabelled"] = [f"c/{i:02d}" for i in range(40)] + ["c/undescribed"]
    text = render_markdown(outcome_of(data))
    for i in range(40):
        assert f"- c/{i:02d}: color: red → blue" in text
    assert "- c/undescribed: expectations changed" in text
    assert "41 cases relabelled" in text.splitlines()[0]


def test_cases_left_out_listed(text: str) -> None:
    assert (
        "**Not compared:**\n\n"
        f"- {UNSCORABLE} (1): home_garden/item-11\n"
        "- harness error, left out of the comparison (1): fashion/item-30\n"
    ) in text


def test_partial_run_first_line_and_lists() -> None:
    text = render_markdown(partial_outcome())
    first = text.splitlines()[0]
    assert first.startswith("**listingeval: pass (partial: 12 of 58 cases, 1 baseline case gone)**")
    assert "**Partial run:** 12 of 58 cases of the case set ran." in text
    assert f"- in the baseline, not run (3): {', '.join(NOT_RUN)}\n" in text
    assert "- in the case set, not selected (43): other/item-00, " in text
    assert " and 23 more\n" in text
    assert "- in the baseline, no longer in the case set (1): retired/old-lamp\n" in text


def test_partial_without_removed_cases() -> None:
    data = partial_data()
    data["coverage"]["removed"] = []
    first = render_markdown(outcome_of(data)).splitlines()[0]
    assert first.startswith("**listingeval: pass (partial: 12 of 58 cases)**. Overall")


def test_verdict_word_is_the_outcomes() -> None:
    data = regression_data(6)
    data["verdict"] = "error"
    assert render_markdown(outcome_of(data)).startswith("**listingeval: error** on color")


def test_cells_escape_pipes_and_newlines() -> None:
    assert escape_cell("a|b\nc") == "a\\|b c"
    assert escape_cell("<script>") == "&lt;script&gt;"
    assert len(escape_cell("x" * 500)) <= 80


@pytest.mark.parametrize(
    ("raw", "gone"),
    [
        ("ping @octocat now", "@octocat"),
        ("see http://evil.example/x", "http://"),
        ("see https://evil.example/x", "https://"),
        ("go to www.evil.example", "www."),
        ("write to someone@evil.example", "@evil"),
        ("mailto:someone", "mailto:"),
        ("closes #12", "#12"),
        ("see GH-7", "GH-7"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("`code` and [link](x)", "[link]"),
        ("bell\x07 and \x1b[31mred", "\x1b"),
    ],
)
def test_inline_text_cannot_ping_link_or_inject(raw: str, gone: str) -> None:
    assert gone not in escape_inline(raw)


@pytest.mark.parametrize("raw", ["ping @octocat", "http://x.example/a", "www.x.example", "a@b.example", "fixes #12"])
def test_defused_text_still_reads_the_same(raw: str) -> None:
    assert escape_inline(raw).replace(JOINER, "") == raw


def test_mentions_and_links_in_model_text_are_defused() -> None:
    data = regression_data()
    data["comparison"]["flips"][0]["current_actual"] = "@octocat see http://evil.example"
    data["harness_errors"] = ["crash in case @admin: https://evil.example/#1"]
    data["comparison"]["relabels"][0]["after"]["color"] = "<b>www.evil.example</b>"
    text = render_markdown(outcome_of(data))
    for raw in ("@octocat", "@admin", "http://", "https://", "www.evil", "<b>"):
        assert raw not in text, raw
    assert f"@{JOINER}octocat" in text


def test_field_name_with_pipe_stays_in_one_cell() -> None:
    data = regression_data()
    data["summary"]["fields"]["odd|name\nx"] = {"accuracy": 0.5, "n": 2}
    text = render_markdown(outcome_of(data))
    row = next(line for line in text.splitlines() if line.startswith("| odd"))
    assert row.startswith("| odd\\|name x |")
    assert row.replace("\\|", "").count("|") == 8


def test_passing_run() -> None:
    text = render_markdown(passing_outcome())
    assert text.startswith("**listingeval: pass**")
    assert "Flipped" not in text
    assert "Relabelled" not in text
    assert "Not compared" not in text
    assert "Partial" not in text
    assert "Gate:" not in text  # no comparison and no repeats: nothing was gated
    assert "| p-value | 95% CI |" in text


def test_inconclusive_verdict_line() -> None:
    first = render_markdown(inconclusive_outcome()).splitlines()[0]
    assert first == (
        f"**listingeval: inconclusive** (the gate passes): {SENTENCE}. "
        "Overall 89.2% vs 91.2% on main:reports/baseline.json."
    )


def test_inconclusive_beside_a_regression_is_named() -> None:
    data = inconclusive_data()
    regression = {"field": "brand", "baseline": 0.9, "current": 0.8, "delta": -0.1, "p_value_drop": 0.01}
    data.update(verdict="regression", regressions=[regression])
    first = render_markdown(outcome_of(data)).splitlines()[0]
    assert first.startswith(f"**listingeval: regression** on brand (-10.0 pts); inconclusive: {SENTENCE}.")


def test_significant_mode_table_says_which_p() -> None:
    text = render_markdown(inconclusive_outcome())
    assert (
        "Gate: significant · alpha 0.05 · tolerance 1.0 pts · 3 repeats per case. "
        "p is the one-sided test of a drop, the p the significant gate uses" in text
    )
    assert "| field | baseline | current | Δ pts | flips ↓/↑ | p drop (gate) | 95% CI |" in text
    assert "| _color_ (inconclusive) | 83.3% | 78.3% | -5.0 | 3/0 | 0.120 | 66.3\u201386.3% |" in text
    assert "0.240" not in text  # the two-sided p is not the one the gate used


def test_flaky_line() -> None:
    text = render_markdown(inconclusive_outcome())
    assert (
        "**Flaky (4):** electronics/item-00: color (2/3), home_garden/item-02: category (2/3), "
        "sports_outdoors/item-04: description (1/3), toys_games/item-06: brand (2/3)\n"
    ) in text
    assert "Totals: 20 cases \u00d7 3 repeats · 1 error · 0 harness errors" in text


def test_flaky_line_truncated_and_read_from_summary() -> None:
    data = inconclusive_data()
    flaky = [{"case": f"c/{i:02d}", "field": "color", "pass_rate": 0.333333} for i in range(MAX_FLAKY + 3)]
    del data["flaky"]
    data["summary"]["flaky"] = flaky
    line = next(x for x in render_markdown(outcome_of(data)).splitlines() if x.startswith("**Flaky"))
    # unknown cases: the count comes from the rate and summary.repeats
    assert line.startswith("**Flaky (13):** c/00: color (1/3), c/01: color (1/3), ")
    assert line.count("c/") == MAX_FLAKY
    assert line.endswith(" and 3 more")


def test_p_value_in_sentences() -> None:
    assert p_short(0.12) == "0.12"
    assert p_short(0.0501) == "0.0501"  # never "0.05 > alpha 0.05"
    assert p_short(0.0004) == "<0.001"
    assert p_short(None) == "\u2013"
    assert alpha(0.05) == "0.05"
    assert alpha(0.1) == "0.1"


class FakeTerminal:
    """Records what write_summary prints, with the markup of each line."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, bool]]] = []

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append((line, markup))

    def write_sep(self, sep: str, title: str | None = None, **markup: bool) -> None:
        self.lines.append((f"{sep * 3} {title} {sep * 3}", markup))

    @property
    def text(self) -> list[str]:
        return [line for line, _ in self.lines]


def _terminal(outcome: Any, written: dict[str, str] | None = None) -> FakeTerminal:
    fake = FakeTerminal()
    # A string: pytest 8.0, the lowest the plugin supports, does not export TerminalReporter.
    write_summary(cast("pytest.TerminalReporter", fake), outcome, written or {})
    return fake


def test_terminal_prints_relabels_and_cases_left_out() -> None:
    fake = _terminal(regression_outcome(), {"HTML report": "reports/eval.html"})
    lines = fake.text
    assert "RELABELLED sports_outdoors/item-13: color red -> brown" in lines
    assert "RELABELLED home_garden/item-20: brand Acme -> null" in lines
    description = "description contains_any: lamp -> contains_any: home_garden, item & max_len: 600"
    assert f"RELABELLED home_garden/item-20: {description}" in lines
    assert "RELABELLED home_garden/item-20: critical fields changed" in lines
    assert f"NOT COMPARED ({UNSCORABLE}) 1: home_garden/item-11" in lines
    assert "NOT COMPARED (harness error, left out of the comparison) 1: fashion/item-30" in lines
    assert lines[1].endswith("cases 40  errors 2  harness errors 1")
    assert "HTML report: reports/eval.html" in lines
    assert lines[-1] == "=== listingeval verdict: REGRESSION ==="
    assert fake.lines[-1][1] == {"red": True}
    assert not any(line.startswith("PARTIAL") for line in lines)


def test_terminal_says_partial() -> None:
    fake = _terminal(partial_outcome())
    lines = fake.text
    assert lines[2] == "PARTIAL run: 12 of 58 cases, 1 baseline case gone"
    assert f"  in the baseline, not run (3): {', '.join(NOT_RUN)}" in lines
    assert any(line.startswith("  in the case set, not selected (43): other/item-00,") for line in lines)
    assert "  in the baseline, no longer in the case set (1): retired/old-lamp" in lines
    assert lines[-1] == "=== listingeval verdict: PASS (partial: 12 of 58 cases, 1 baseline case gone) ==="
    assert fake.lines[-1][1] == {"green": True}


def test_terminal_strips_escape_sequences() -> None:
    data = regression_data()
    data["harness_errors"] = ["boom \x1b[2J\x1b]0;pwned\x07 and \x1b[31mred\x1b[0m\r\nnext\u202e"]
    data["comparison"]["relabels"][0]["after"]["color"] = "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"
    lines = _terminal(outcome_of(data)).text
    assert "HARNESS ERROR boom  and red  next" in lines
    assert "RELABELLED sports_outdoors/item-13: color red -> click" in lines
    for line in lines:
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in line), repr(line)
    assert terminal_text("a\x9b2Jb\tc") == "ab c"
