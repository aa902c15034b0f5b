"""Optional pytest-html integration: eval summary in the report header and per-case extras.

Nothing here imports pytest_html: the extras are the plain dicts pytest-html 4 reads from
``report.extras`` (keys name, format_type, content, mime_type, extension), so this module
loads whether or not pytest-html is installed. Register the plugin object only when it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_listingeval.report import view
from pytest_listingeval.report.gate_view import flaky_views, gate_info, inconclusive_views
from pytest_listingeval.report.html import environment
from pytest_listingeval.report.thumbnails import THUMB_MIME, resolve_image, thumbnail_base64

Extra = dict[str, str | None]
ResultsGetter = Callable[[], Mapping[str, Any] | None]

VERDICT_COLOURS = {
    "pass": "#1a7f37",
    "regression": "#cf222e",
    "error": "#8250df",
    "inconclusive": "#9a6700",
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


def summary_html(results: Mapping[str, Any]) -> str:
    """Render the eval summary (verdict, overall, per-field table) as an HTML fragment."""
    verdict = str(results.get("verdict") or "unknown")
    return (
        environment()
        .get_template("pytest_html_summary.html.j2")
        .render(
            verdict=verdict,
            colour=VERDICT_COLOURS.get(verdict, "#57606a"),
            reasons=view.verdict_reasons(results),
            summary=results.get("summary") or {},
            baseline=results.get("baseline"),
            config=results.get("config") or {},
            rows=view.field_rows(results) + view.aggregate_rows(results),
            gate=gate_info(results),
            inconclusive=inconclusive_views(results),
            flaky=flaky_views(results),
        )
    )


def case_extras(case_result: Mapping[str, Any], root: Path) -> list[Extra]:
    """Build pytest-html extras for one case: a thumbnail image and an HTML field diff."""
    extras: list[Extra] = []
    path = resolve_image(root, case_result.get("image"))
    encoded = thumbnail_base64(path) if path else None
    if encoded:
        extras.append(_extra(encoded, "image", str(case_result.get("id")), THUMB_MIME, "jpg"))
    case = view.case_view(case_result)
    fragment = environment().get_template("pytest_html_case.html.j2").render(case=case)
    extras.append(_extra(fragment, "html"))
    return extras


class PytestHtmlEvalExtras:
    """pytest-html hooks; register with the plugin manager only when pytest-html is present."""

    def __init__(self, get_results: ResultsGetter) -> None:
        """Keep a callable that returns the finished results dict (or None before the run ends)."""
        self._get_results = get_results

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: object
    ) -> None:
        """Add the eval summary to the top of pytest-html's summary section."""
        results = self._get_results()
        if results:
            prefix.append(summary_html(results))


__all__ = ["PytestHtmlEvalExtras", "case_extras", "summary_html"]
