"""Unit tests of the self-contained HTML eval report."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pytest_listingeval.outcome import Coverage, RunConfig, RunInfo, RunOutcome, Summary
from pytest_listingeval.report import render_html, write_html
from pytest_listingeval.report.thumbnails import thumbnail_base64, thumbnail_data_uri
from pytest_listingeval.results import CaseResult, FieldScore
from tests.plugin.report_fixtures import (
    FLAKY,
    JUDGE_FAIL,
    JUDGE_PASS,
    NOT_RUN,
    XSS,
    inconclusive_outcome,
    outcome_of,
    partial_data,
    partial_outcome,
    passing_outcome,
    regression_data,
    regression_outcome,
    write_images,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run")
    write_images(path, regression_outcome())
    return path


@pytest.fixture(scope="module")
def outcome() -> RunOutcome:
    return regression_outcome()


@pytest.fixture(scope="module")
def page(outcome: RunOutcome, root: Path) -> str:
    return render_html(outcome, root)


def _case_positions(page: str) -> list[str]:
    return re.findall(r'data-case-id="([^"]+)"', page)


def test_every_case_and_verdict_present(page: str, outcome: RunOutcome) -> None:
    for case in outcome.cases:
        assert f'data-case-id="{case.id}"' in page
    assert 'class="verdict verdict--regression"' in page
    assert ">regression<" in page
    assert "gpt-4.1-mini" in page
    assert "default-3f2a9c1d" in page
    assert "main:reports/baseline.json" in page
    assert "01234567" in page


def test_cases_ordered_regressions_then_improvements_then_rest(page: str, outcome: RunOutcome) -> None:
    order = _case_positions(page)
    assert sorted(order) == sorted(c.id for c in outcome.cases)
    assert outcome.comparison is not None
    flips = outcome.comparison.flips
    down = {f.case for f in flips if f.direction == "down"}
    up = {f.case for f in flips if f.direction == "up"} - down
    bad = {c.id for c in outcome.cases if c.error or c.mismatched_fields} - down - up
    rank = {cid: i for i, cid in enumerate(order)}
    assert max(rank[c] for c in down) < min(rank[c] for c in up)
    assert max(rank[c] for c in up) < min(rank[c] for c in bad)
    rest = set(order) - down - up - bad
    assert rest
    assert max(rank[c] for c in bad) < min(rank[c] for c in rest)


def test_no_network_resources(page: str) -> None:
    refs = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)""", page, re.IGNORECASE)
    assert refs, "expected at least the thumbnails and in-page links"
    for ref in refs:
        assert ref.startswith(("data:", "#")), ref
    assert "http://" not in page
    assert "https://" not in page
    assert "@import" not in page
    assert "url(" not in page


def test_model_output_is_escaped(page: str) -> None:
    assert XSS not in page
    assert "&lt;script&gt;alert(" in page
    scripts = re.findall(r"<script\b", page)
    assert len(scripts) == 2  # the onerror recorder and the filters, nothing from the data


def test_error_message_and_failed_check_shown(page: str) -> None:
    assert "RefusalError" in page
    assert "model refused case 5: policy | &lt;b&gt;" in page
    assert "similarity 0.41 &lt; 0.80" in page
    assert "contains_all" in page


def test_sections_present(page: str) -> None:
    assert 'id="field-table"' in page
    assert 'id="harness-errors"' in page
    assert "missing cassette" in page
    assert 'id="critical-misses"' in page
    # every enum field of the output schema gets its matrix, free-text fields none
    assert re.findall(r'<section id="confusion-([\w.\[\]*-]+)"', page) == ["category", "color", "condition"]
    assert 'class="diff__add">+Name the colour' in page
    assert 'class="diff__del">-Name the dominant' in page
    assert "retired/old-lamp" in page
    assert "Added cases (2)" in page
    assert "40,095" in page  # total tokens
    assert "$0.0213" in page
    assert "p-value" in page
    assert "sig." in page
    assert 'id="coverage"' not in page  # the whole case set ran
    assert 'id="partial-label"' not in page


def test_harness_errors_counted_beside_errors(page: str) -> None:
    assert '<div class="kpi__sub" id="error-counts">2 errors · 1 harness error</div>' in page
    assert '<span class="muted">(2 errors · 1 harness error)</span>' in page
    card = _card(page, "fashion/item-30")
    assert 'data-group="error"' in card
    assert "<strong>harness error</strong>: missing cassette" in card


def test_relabels_listed_with_before_and_after(page: str) -> None:
    section = _section(page, "relabels")
    assert 'Relabelled cases <span class="muted">(2)</span>' in section
    rows = re.findall(r"<tr>(.*?)</tr>", section[section.index("<tbody>") :], re.S)
    cells = [re.findall(r'<td class="l[^"]*">(.*?)</td>', row) for row in rows]
    assert cells == [
        ["<code>color</code>", "red", "brown"],
        ["<code>brand</code>", "Acme", "null"],
        ["<code>description</code>", "contains_any: lamp", "contains_any: home_garden, item &amp; max_len: 600"],
    ]
    assert '<a href="#case-sports_outdoors/item-13">sports_outdoors/item-13</a>' in section
    home = section[section.index("home_garden/item-20") :]
    assert home.index("critical fields changed") < home.index("<code>description</code>")
    card = _card(page, "home_garden/item-20")
    assert '<a class="tag tag--warn" href="#relabels">relabelled</a>' in card


def test_cases_left_out_of_the_comparison_listed(page: str) -> None:
    unscorable = page[page.index('id="not-compared-unscorable"') :]
    unscorable = unscorable[: unscorable.index("</div>")]
    assert "Not compared: changed judge rubric or no stored output, cannot be re-scored offline (1)" in unscorable
    assert '<a href="#case-home_garden/item-11"><code>home_garden/item-11</code></a>' in unscorable
    errored = page[page.index('id="not-compared-errored"') :]
    errored = errored[: errored.index("</div>")]
    assert "Not compared: harness error, left out of the comparison (1)" in errored
    assert "fashion/item-30" in errored
    assert "not compared: cannot be re-scored" in _card(page, "home_garden/item-11")
    assert "not compared: harness error" in _card(page, "fashion/item-30")


def test_filters_have_data_attributes(page: str) -> None:
    assert 'id="filters" hidden' in page
    assert 'data-flip="down"' in page
    assert 'data-mismatch="1"' in page
    assert "data-tags='[&#34;clipart&#34;" in page or 'data-tags=\'["clipart"' in page
    assert '<option value="hard">hard</option>' in page


def test_size_budget(page: str) -> None:
    assert len(page.encode("utf-8")) < 3 * 1024 * 1024
    assert page.count("data:image/jpeg;base64,") == 39  # one image is missing


def test_missing_image_placeholder(page: str) -> None:
    assert "no image" in page


def test_passing_run_without_baseline(tmp_path: Path) -> None:
    outcome = passing_outcome()
    page = render_html(outcome, tmp_path)
    assert "verdict--pass" in page
    assert "What changed" not in page
    assert "Harness errors" not in page
    assert "No baseline to compare" in page
    assert ">p-value<" not in page
    assert 'id="relabels"' not in page
    assert "Not compared" not in page
    assert 'id="gate-line"' not in page
    for case in outcome.cases:
        assert case.id in page


def test_minimal_outcome(tmp_path: Path) -> None:
    case = CaseResult(id="a/b", fields={"category": FieldScore(score=1, expected="x", actual="x")}, latency_ms=5)
    outcome = RunOutcome(
        run=RunInfo(id="r1", time="2025-01-01T00:00:00+00:00"),
        config=RunConfig(model="m", prompt_id="p-1", schema_id="s"),
        summary=Summary(cases=1, errors=0, overall=1.0, exact_cases=1.0),
        cases=(case,),
        coverage=Coverage(case_set=1, selected=1),
        verdict="pass",
    )
    page = render_html(outcome, tmp_path)
    assert "a/b" in page
    assert "verdict--pass" in page
    assert "0 errors · 0 harness errors" in page


def test_write_html_and_thumbnail_cache(outcome: RunOutcome, root: Path, tmp_path: Path) -> None:
    out = write_html(outcome, root, tmp_path / "reports" / "eval.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert outcome.cases[0].image is not None
    image = root / outcome.cases[0].image
    first = thumbnail_base64(image)
    assert first is not None
    assert thumbnail_base64(image) is first  # cached by path, mtime and size
    assert thumbnail_data_uri(image) == f"data:image/jpeg;base64,{first}"
    assert thumbnail_data_uri(tmp_path / "nope.png") is None


def test_without_pillow_the_report_has_no_thumbnails_and_says_why(
    outcome: RunOutcome, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_pillow = render_html(outcome, root)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails as if it were not installed
    page = render_html(outcome, root)
    assert "data:image/" not in page  # neither a thumbnail nor the full-size photo
    assert page.count("no thumbnail: pip install pillow") == 40
    assert "no image" not in page
    assert len(page) < len(with_pillow) / 2
    assert thumbnail_base64(root / str(outcome.cases[0].image)) is None  # not served from the cache either


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


@pytest.fixture(scope="module")
def partial_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    return render_html(partial_outcome(), tmp_path_factory.mktemp("partial"))


def test_partial_run_says_so_in_the_header(partial_page: str) -> None:
    assert 'class="verdict verdict--pass"' in partial_page  # the verdict word is the outcome's own
    label = "partial: 12 of 58 cases, 1 baseline case gone"
    assert f'<div class="verdict__partial" id="partial-label">{label}</div>' in partial_page
    assert f"<title>listingeval: pass ({label})" in partial_page


def test_partial_run_lists_its_coverage(partial_page: str) -> None:
    section = _section(partial_page, "coverage")
    assert "Partial run: 12 of 58 cases" in section
    not_run = section[section.index('id="coverage-not-run"') :]
    not_run = not_run[: not_run.index("</li>")]
    assert "in the baseline, not run (3)" in not_run
    for cid in NOT_RUN:
        assert f"<code>{cid}</code>" in not_run
    others = section[section.index('id="coverage-not-selected"') :]
    others = others[: others.index("</li>")]
    assert "in the case set, not selected (43)" in others
    assert others.count("<code>") == 43  # every one, none folded away
    assert not set(NOT_RUN) & set(re.findall(r"<code>([^<]+)</code>", others))
    removed = section[section.index('id="coverage-removed"') :]
    assert "in the baseline, no longer in the case set (1): <code>retired/old-lamp</code>" in removed


def test_partial_without_removed_cases(tmp_path: Path) -> None:
    data = partial_data()
    data["coverage"]["removed"] = []
    page = render_html(outcome_of(data), tmp_path)
    assert '<div class="verdict__partial" id="partial-label">partial: 12 of 58 cases</div>' in page
    assert 'id="coverage-removed"' not in page


def test_verdict_is_never_recomputed(tmp_path: Path) -> None:
    data = regression_data(6)
    data["verdict"] = "pass"  # regressions listed, yet the outcome says pass: the report says pass
    page = render_html(outcome_of(data), tmp_path)
    assert 'class="verdict verdict--pass"' in page
    assert '<div class="verdict__word">pass</div>' in page
    data["verdict"] = "incomplete"
    page = render_html(outcome_of(data), tmp_path)
    assert 'class="verdict verdict--incomplete"' in page
    assert ".verdict--incomplete {" in page


def test_relabel_specs_are_escaped(tmp_path: Path) -> None:
    data = regression_data(24)
    data["comparison"]["relabels"][0]["after"]["color"] = XSS
    page = render_html(outcome_of(data), tmp_path)
    section = _section(page, "relabels")
    assert XSS not in page
    assert "&lt;script&gt;alert(" in section


SENTENCE = "color dropped 83.3% \u2192 78.3% (p = 0.12 &gt; alpha 0.05): add repeats or cases"


@pytest.fixture(scope="module")
def unsure() -> RunOutcome:
    return inconclusive_outcome()


@pytest.fixture(scope="module")
def unsure_page(unsure: RunOutcome, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("unsure")
    write_images(root, unsure)
    return render_html(unsure, root)


def _card(page: str, case: str) -> str:
    start = page.index(f'data-case-id="{case}"')
    return page[start : page.index("</article>", start)]


def test_inconclusive_banner_and_box(unsure_page: str) -> None:
    assert 'class="verdict verdict--inconclusive"' in unsure_page
    assert '<div class="verdict__word">inconclusive</div>' in unsure_page  # upper-cased by CSS
    assert "text-transform: uppercase" in unsure_page
    assert f"<li>{SENTENCE}</li>" in unsure_page
    assert "The gate passes (exit 0)" in unsure_page
    box = unsure_page[unsure_page.index('id="inconclusive"') :]
    box = box[: box.index("</section>")]
    assert "Inconclusive (1)" in box
    assert SENTENCE in box
    assert "--eval-repeat" in box


def test_gate_mode_alpha_and_tolerance_shown(unsure_page: str) -> None:
    assert "<dt>gate</dt><dd>significant" in unsure_page
    assert "alpha 0.05 · tolerance 1.0 pts" in unsure_page
    assert 'id="gate-line">Gate: significant · alpha 0.05 · tolerance 1.0 pts · 3 repeats per case<' in unsure_page
    table = unsure_page[unsure_page.index('id="field-table"') :]
    table = table[: table.index("</table>")]
    assert ">p drop (gate)</th>" in table
    assert ">p-value<" not in table
    color = table[table.index('<tr class="inconclusive field">') :]
    color = color[: color.index("</tr>")]
    assert '>color <span class="tag tag--warn">inconclusive</span>' in color
    assert "<td>0.120</td>" in color  # the one-sided p the gate used, not the two-sided 0.240
    assert "sig." not in color
    assert "one-sided test of a drop" in unsure_page
    assert "bootstrap intervals over the 3 repeats" in unsure_page


def test_strict_run_keeps_two_sided_p(page: str) -> None:
    assert 'id="gate-line">Gate: strict · alpha 0.05 · tolerance 0.0 pts<' in page
    assert "<dt>gate</dt><dd>strict" in page
    assert ">p-value</th>" in page
    assert "p is two-sided and marked sig. below 0.05" in page
    assert 'id="inconclusive"' not in page
    assert 'id="flaky"' not in page
    assert "<dt>judge</dt>" not in page


def test_flaky_section_links_to_cards(unsure_page: str) -> None:
    section = unsure_page[unsure_page.index('<section id="flaky">') :]
    section = section[: section.index("</section>")]
    assert 'Flaky cases <span class="muted">(4)</span>' in section
    for index, name, scores, _ in FLAKY:
        case = inconclusive_outcome().cases[index].id
        assert f'<a href="#case-{case}">{case}</a>' in section
        assert f'id="case-{case}"' in unsure_page
        row = section[section.index(f'href="#case-{case}"') :]
        row = row[: row.index("</tr>")]
        assert f"<code>{name}</code>" in row
        assert f">{sum(scores)}/3<" in row


def test_flaky_field_in_case_card(unsure_page: str) -> None:
    card = _card(unsure_page, "electronics/item-00")
    assert '<span class="tag tag--warn">flaky</span>' in card
    assert '<tr class="partial">' in card
    assert "2/3 repeats" in card
    reps = card[card.index('<ol class="reps">') : card.index("</ol>")]
    assert re.findall(r'rep--(ok|miss)".*?class="val">([^<]*)<', reps) == [
        ("ok", "black"),
        ("miss", "grey"),
        ("ok", "black"),
    ]
    assert "the first repeat passed; failed in others" in card
    assert "3 repeats · " in card
    # fields that passed in every repeat show no rate and no per-repeat list
    quiet = card[card.index('<details class="quiet">') :]
    assert "repeats</span>" not in quiet
    assert 'class="reps"' not in quiet


def test_flaky_cases_count_as_mismatches(unsure_page: str, unsure: RunOutcome) -> None:
    order = _case_positions(unsure_page)
    rank = {cid: i for i, cid in enumerate(order)}
    flaky = {unsure.cases[i].id for i, *_ in FLAKY}
    errors = {c.id for c in unsure.cases if c.error}
    clean = {c.id for c in unsure.cases if not c.error and not c.mismatched_fields}
    assert unsure.comparison is not None
    flips = {f.case for f in unsure.comparison.flips}
    clean -= flips
    assert flaky and clean and not flaky & flips
    assert max(rank[c] for c in errors) < min(rank[c] for c in flaky)
    assert max(rank[c] for c in flaky) < min(rank[c] for c in clean)
    for case in flaky:
        card = _card(unsure_page, case)
        assert 'data-group="mismatch"' in card
        assert 'data-mismatch="1"' in card


def test_judge_reasons_prominent(unsure_page: str) -> None:
    card = _card(unsure_page, "sports_outdoors/item-04")
    assert f'<div class="judge judge--miss"><strong>judge:</strong> {JUDGE_FAIL}</div>' in card
    assert "1/3 repeats" in card
    assert f"<strong>judge:</strong> {JUDGE_PASS}" in _card(unsure_page, "tools_diy/item-08")
    assert "<dt>judge</dt><dd>gpt-4.1</dd>" in unsure_page
