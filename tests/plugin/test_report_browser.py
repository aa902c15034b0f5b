"""Open the HTML report in headless Chromium: no JS errors, filters work, it renders."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import write_html
from tests.pixels import rgb_at
from tests.plugin.report_fixtures import (
    FLAKY,
    inconclusive_outcome,
    partial_outcome,
    regression_outcome,
    write_images,
)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed at /usr/bin/chromium")

# Runs after the report's own script: exercises each filter and records what stayed visible.
FILTER_PROBE = """<script>
(function () {
  var form = document.getElementById("filters");
  function visible() {
    return Array.prototype.filter.call(document.querySelectorAll(".case"),
      function (el) { return !el.hidden; }).length;
  }
  function set(name, value) {
    var el = form.elements[name];
    if (el.type === "checkbox") { el.checked = value; } else { el.value = value; }
    form.dispatchEvent(new Event("change"));
  }
  var seen = {all: visible()};
  set("flip", true); seen.flip = visible(); set("flip", false);
  set("mismatch", true); seen.mismatch = visible(); set("mismatch", false);
  set("field", "color"); seen.color = visible(); set("field", "");
  set("tag", "hard"); seen.hard = visible(); set("tag", "");
  document.body.setAttribute("data-probe", JSON.stringify(seen));
})();
</script></body>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def screenshot(html: Path, png: Path, size: str = "1280,2000") -> subprocess.CompletedProcess[str]:
    """Take a headless Chromium screenshot of a local HTML file."""
    return _chromium(png.parent, f"--screenshot={png}", f"--window-size={size}", html.as_uri())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunOutcome]:
    root = tmp_path_factory.mktemp("run")
    outcome = regression_outcome()
    write_images(root, outcome)
    return write_html(outcome, root, root / "reports" / "eval.html"), outcome


def _js_errors(dom: str) -> str:
    """Read what the report's window.onerror recorder wrote on <html>."""
    tag = re.search(r"<html[^>]*>", dom)
    assert tag, dom[:200]
    found = re.search(r'data-js-errors="([^"]*)"', tag.group(0))
    return found.group(1) if found else ""


def _uncaught(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Uncaught" in line]


def test_dom_after_scripts(report: tuple[Path, RunOutcome], tmp_path: Path) -> None:
    html, outcome = report
    run = _chromium(tmp_path, "--dump-dom", html.as_uri())
    dom = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    assert not _uncaught(run.stderr)
    assert not _js_errors(dom)
    assert 'data-filters-ready="1"' in dom
    assert 'id="field-table"' in dom
    assert "showing 40 of 40 cases" in dom
    assert re.search(r'<form class="filters" id="filters"(?! hidden)', dom)
    for case in outcome.cases:
        assert f'data-case-id="{case.id}"' in dom
    assert '<section id="relabels">' in dom


def test_filters_hide_cases(report: tuple[Path, RunOutcome], tmp_path: Path) -> None:
    html, outcome = report
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", FILTER_PROBE, 1))
    run = _chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert not _uncaught(run.stderr)
    assert not _js_errors(run.stdout)
    match = re.search(r"data-probe=\"([^\"]+)\"", run.stdout)
    assert match, run.stdout[-500:]
    seen = {k: int(v) for k, v in re.findall(r"&quot;(\w+)&quot;:(\d+)", match.group(1))}
    assert outcome.comparison is not None
    flipped = {f.case for f in outcome.comparison.flips}
    hard = [c for c in outcome.cases if "hard" in c.tags]
    assert seen["all"] == 40
    assert seen["flip"] == len(flipped)
    assert len(flipped) < seen["mismatch"] < 40
    assert 0 < seen["color"] < seen["mismatch"]
    assert seen["hard"] == len(hard)


def test_js_error_is_recorded(tmp_path: Path) -> None:
    """The onerror recorder itself works, so an empty attribute above means no error."""
    page = tmp_path / "broken.html"
    root = tmp_path / "run"
    write_html(regression_outcome(3), root, page)
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", "<script>nope();</script></body>"))
    run = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "nope" in _js_errors(run.stdout)
    assert _uncaught(run.stderr)


def test_screenshot_not_blank(report: tuple[Path, RunOutcome], tmp_path: Path) -> None:
    html, _ = report
    png = tmp_path / "report.png"
    run = screenshot(html, png)
    assert png.exists(), run.stderr[-2000:]
    with Image.open(png) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1280, 2000)
        small = rgb.resize((320, 500))
        colours = small.getcolors(maxcolors=320 * 500)
        assert colours is not None
        assert len(colours) > 200
        # an RGB image's colours are (r, g, b); Pillow's type also allows one band's number
        non_white = sum(count for count, rgb_ in colours if isinstance(rgb_, tuple) and min(rgb_) < 235)
        assert non_white / (320 * 500) > 0.15
        # the verdict banner is red for a regression
        r, g, b = rgb_at(rgb, (20, 20))
        assert r > 150 and g < 80 and b < 80


@pytest.fixture(scope="module")
def unsure_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunOutcome]:
    root = tmp_path_factory.mktemp("unsure")
    outcome = inconclusive_outcome()
    write_images(root, outcome)
    return write_html(outcome, root, root / "reports" / "eval.html"), outcome


def test_inconclusive_report_runs_clean(unsure_report: tuple[Path, RunOutcome], tmp_path: Path) -> None:
    html, outcome = unsure_report
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", FILTER_PROBE, 1))
    run = _chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert not _uncaught(run.stderr)
    assert not _js_errors(run.stdout)
    assert 'id="inconclusive"' in run.stdout
    assert '<section id="flaky">' in run.stdout
    match = re.search(r"data-probe=\"([^\"]+)\"", run.stdout)
    assert match, run.stdout[-500:]
    seen = {k: int(v) for k, v in re.findall(r"&quot;(\w+)&quot;:(\d+)", match.group(1))}
    bad = [c for c in outcome.cases if c.error or c.mismatched_fields]
    assert seen["mismatch"] == len(bad)  # flaky cases are among the mismatches
    assert {outcome.cases[i].id for i, *_ in FLAKY} <= {c.id for c in bad}


def test_inconclusive_banner_is_amber(unsure_report: tuple[Path, RunOutcome], tmp_path: Path) -> None:
    html, _ = unsure_report
    png = tmp_path / "unsure.png"
    run = screenshot(html, png, "1280,900")
    assert png.exists(), run.stderr[-2000:]
    with Image.open(png) as img:
        r, g, b = rgb_at(img.convert("RGB"), (20, 20))
    assert abs(r - 0x9A) < 10 and abs(g - 0x67) < 10 and b < 10  # #9a6700, not the regression red


@pytest.fixture(scope="module")
def partial_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partial")
    outcome = partial_outcome()
    write_images(root, outcome)
    return write_html(outcome, root, root / "reports" / "eval.html")


def test_partial_report_runs_clean_and_says_partial(partial_report: Path, tmp_path: Path) -> None:
    run = _chromium(tmp_path, "--dump-dom", partial_report.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert not _uncaught(run.stderr)
    assert not _js_errors(run.stdout)
    assert 'id="partial-label">partial: 12 of 58 cases, 1 baseline case gone<' in run.stdout
    assert 'id="coverage-not-run"' in run.stdout
    assert "showing 12 of 12 cases" in run.stdout


def test_partial_banner_stays_the_verdicts_colour(partial_report: Path, tmp_path: Path) -> None:
    png = tmp_path / "partial.png"
    run = screenshot(partial_report, png, "1280,900")
    assert png.exists(), run.stderr[-2000:]
    with Image.open(png) as img:
        rgb = img.convert("RGB")
        r, g, b = rgb_at(rgb, (20, 20))
        assert abs(r - 0x1A) < 10 and abs(g - 0x7F) < 10 and abs(b - 0x37) < 10  # pass green, partial or not
        # the coverage box below the banner is amber (#fff8c5)
        pixels = [rgb.getpixel((x, y)) for x in range(0, 1280, 8) for y in range(300, 500, 8)]
        assert sum(1 for pixel in pixels if pixel == (255, 248, 197)) > 200
