"""Render the eval results as one self-contained HTML file (inline CSS, JS and thumbnails)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report import view
from pytest_listingeval.report.changes import config_changes
from pytest_listingeval.report.confusion import confusion
from pytest_listingeval.report.gate_view import flaky_views, gate_info, inconclusive_views
from pytest_listingeval.report.thumbnails import resolve_image, thumbnail_data_uri

CONFUSION_FIELDS = ("category",)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Return the report package's jinja2 environment (autoescape always on)."""
    env = Environment(
        loader=PackageLoader("pytest_listingeval.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["fmt"] = fmt
    return env


def _images(results: Mapping[str, Any], root: Path) -> dict[str, str | None]:
    images: dict[str, str | None] = {}
    for case in results.get("cases") or []:
        path = resolve_image(root, case.get("image"))
        images[str(case.get("id"))] = thumbnail_data_uri(path) if path else None
    return images


def _options(cases: list[view.CaseView]) -> tuple[list[str], list[str]]:
    fields: list[str] = []
    tags: list[str] = []
    for case in cases:
        fields.extend(f.name for f in case.fields if f.name not in fields)
        tags.extend(t for t in case.tags if t not in tags)
    return fields, sorted(tags)


def context(results: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """Build the template context of the full HTML report."""
    cases = view.case_views(results, _images(results, root))
    field_options, tag_options = _options(cases)
    comparison = results.get("comparison") or {}
    groups: dict[str, int] = {}
    for case in cases:
        groups[case.group] = groups.get(case.group, 0) + 1
    confusions = [c for name in CONFUSION_FIELDS if (c := confusion(results, name))]
    config = results.get("config") or {}
    has_judge = any(f.judge_checks for case in cases for f in case.fields)
    return {
        "verdict": str(results.get("verdict") or "unknown"),
        "reasons": view.verdict_reasons(results),
        "config": config,
        "gate": gate_info(results),
        "inconclusive": inconclusive_views(results),
        "flaky": flaky_views(results),
        "judge_model": (config.get("judge_model") or config.get("model")) if has_judge else None,
        "summary": results.get("summary") or {},
        "baseline": results.get("baseline"),
        "comparison": comparison,
        "changes": config_changes(results),
        "field_rows": view.field_rows(results),
        "aggregate_rows": view.aggregate_rows(results),
        "confusions": confusions,
        "cases": cases,
        "groups": groups,
        "group_labels": view.GROUP_LABELS,
        "field_options": field_options,
        "tag_options": tag_options,
        "harness_errors": [str(e) for e in results.get("harness_errors") or []],
        "critical_misses": results.get("critical_misses") or [],
        "added": [str(c) for c in comparison.get("added_cases") or []],
        "removed": [str(c) for c in comparison.get("removed_cases") or []],
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_html(results: Mapping[str, Any], root: Path) -> str:
    """Render the results dict as a self-contained HTML report; root resolves image paths."""
    return environment().get_template("report.html.j2").render(**context(results, root))


def write_html(results: Mapping[str, Any], root: Path, path: Path) -> Path:
    """Render the HTML report and write it to path (parents created); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results, root), encoding="utf-8")
    return path
