"""Unit tests of the self-contained HTML eval report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.report import render_html, write_html
from pytest_listingeval.report.thumbnails import thumbnail_base64, thumbnail_data_uri

try:
    from tests.plugin.report_fixtures import XSS, passing_results, regression_results, write_images
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from report_fixtures import (  # type: ignore[no-redef]
        XSS,
        passing_results,
        regression_results,
        write_images,
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run")
    write_images(path, regression_results())
    return path


@pytest.fixture
def results() -> dict[str, Any]:
    return regression_results()


@pytest.fixture
def page(results: dict[str, Any], root: Path) -> str:
    return render_html(results, root)


def _case_positions(page: str) -> list[str]:
    return re.findall(r'data-case-id="([^"]+)"', page)


def test_every_case_and_verdict_present(page: str, results: dict[str, Any]) -> None:
    for case in results["cases"]:
        assert f'data-case-id="{case["id"]}"' in page
    assert 'class="verdict verdict--regression"' in page
    assert ">regression<" in page
    assert "gpt-4.1-mini" in page
    assert "default-3f2a9c1d" in page
    assert "main:reports/baseline.json" in page
    assert "01234567" in page


def test_cases_ordered_regressions_then_improvements_then_rest(page: str, results: dict[str, Any]) -> None:
    order = _case_positions(page)
    assert sorted(order) == sorted(c["id"] for c in results["cases"])
    flips = results["comparison"]["flips"]
    down = {f["case"] for f in flips if f["direction"] == "down"}
    up = {f["case"] for f in flips if f["direction"] == "up"} - down
    bad = (
        {c["id"] for c in results["cases"] if c["error"] or any(not f["score"] for f in c["fields"].values())}
        - down
        - up
    )
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
    assert 'id="confusion-category"' in page
    assert 'class="diff__add">+Name the colour' in page
    assert 'class="diff__del">-Name the dominant' in page
    assert "retired/old-lamp" in page
    assert "Added cases (2)" in page
    assert "40,095" in page  # total tokens
    assert "$0.0213" in page
    assert "p-value" in page
    assert "sig." in page


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
    data = passing_results()
    page = render_html(data, tmp_path)
    assert "verdict--pass" in page
    assert "What changed" not in page
    assert "Harness errors" not in page
    assert "No baseline to compare" in page
    assert ">p-value<" not in page
    for case in data["cases"]:
        assert case["id"] in page


def test_minimal_contract_dict(tmp_path: Path) -> None:
    data = {
        "config": {"model": "m", "prompt": "p", "prompt_id": "p-1", "schema_id": "s"},
        "summary": {"cases": 1, "errors": 0, "overall": 1.0, "exact_cases": 1.0,
                    "fields": {"category": {"accuracy": 1.0, "n": 1}}},
        "cases": [{"id": "a/b", "error": None,
                   "fields": {"category": {"score": 1, "expected": "x", "actual": "x"}},
                   "output": {"category": "x"}, "latency_ms": 5,
                   "usage": {"input_tokens": 1, "output_tokens": 2}}],
        "baseline": None,
        "verdict": "pass",
        "regressions": [],
        "critical_misses": [],
    }  # fmt: skip
    page = render_html(data, tmp_path)
    assert "a/b" in page
    assert "verdict--pass" in page


def test_write_html_and_thumbnail_cache(results: dict[str, Any], root: Path, tmp_path: Path) -> None:
    out = write_html(results, root, tmp_path / "reports" / "eval.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    image = root / results["cases"][0]["image"]
    first = thumbnail_base64(image)
    assert first is not None
    assert thumbnail_base64(image) is first  # cached by path, mtime and size
    assert thumbnail_data_uri(image) == f"data:image/jpeg;base64,{first}"
    assert thumbnail_data_uri(tmp_path / "nope.png") is None
