"""Optional pytest-html integration: eval summary in the report header and per-case extras.

Nothing here imports pytest_html: the extras are the plain dicts pytest-html 4 reads from
``report.extras`` (keys name, format_type, content, mime_type, extension), so this module
loads whether or not pytest-html is installed. Register the plugin object only when it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import run_view, table_view, view
from pytest_listingeval.report.gate_view import flaky_views, gate_info, inconclusive_views
from pytest_listingeval.report.html import environment
from pytest_listingeval.report.thumbnails import THUMB_MIME, resolve_image, thumbnail_base64
from pytest_listingeval.results import CaseResult

Extra = dict[str, str | None]
OutcomeGetter = Callable[[], RunOutcome | None]

VERDICT_COLOURS = {
    "pass": "#1a7f37",
    "regression": "#cf222e",
    "error": "#8250df",
    "inconclusive": "#9a6700",
    "incomplete": "#57606a",
}


def _extra(
    content: str,
    format_type: str,
    name: str | None = None,
    mime_type: str | None = None,
    extension: str | None = None,
) -> Extra:
    return {
        "name": name,
        "format_type": format_type,
        "content": content,
        "mime_type": mime_type,
        "extension": extension,
    }


def summary_html(outcome: RunOutcome) -> str:
    """Render the eval summary (verdict, coverage, relabels, per-field table) as an HTML fragment."""
    return (
        environment()
        .get_template("pytest_html_summary.html.j2")
        .render(
            verdict=outcome.verdict,
            colour=VERDICT_COLOURS[outcome.verdict],
            reasons=run_view.verdict_reasons(outcome),
            summary=outcome.summary,
            baseline=outcome.baseline,
            comparison=outcome.comparison,
            config=outcome.config,
            coverage=run_view.coverage_view(outcome),
            relabels=run_view.relabel_views(outcome),
            not_compared=run_view.not_compared(outcome),
            error_counts=run_view.error_counts(outcome),
            rows=table_view.field_rows(outcome) + table_view.aggregate_rows(outcome),
            gate=gate_info(outcome),
            inconclusive=inconclusive_views(outcome),
            flaky=flaky_views(outcome),
        )
    )


def case_extras(case: CaseResult, root: Path) -> list[Extra]:
    """Build pytest-html extras for one case: a thumbnail image and an HTML field diff."""
    extras: list[Extra] = []
    path = resolve_image(root, case.image)
    encoded = thumbnail_base64(path) if path else None
    if encoded:
        extras.append(_extra(encoded, "image", case.id, THUMB_MIME, "jpg"))
    fragment = environment().get_template("pytest_html_case.html.j2").render(case=view.case_view(case))
    extras.append(_extra(fragment, "html"))
    return extras


class PytestHtmlEvalExtras:
    """pytest-html hooks; register with the plugin manager only when pytest-html is present."""

    def __init__(self, get_outcome: OutcomeGetter) -> None:
        """Keep a callable that returns the final outcome (or None before the run is decided)."""
        self._get_outcome = get_outcome

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: object
    ) -> None:
        """Add the eval summary to the top of pytest-html's summary section."""
        outcome = self._get_outcome()
        if outcome is not None:
            prefix.append(summary_html(outcome))


__all__ = ["PytestHtmlEvalExtras", "case_extras", "summary_html"]
