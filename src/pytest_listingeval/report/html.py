"""Render the run's outcome as one self-contained HTML file (inline CSS, JS and thumbnails)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pytest_listingeval.outcome import RunOutcome
from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.report import run_view, table_view, view
from pytest_listingeval.report.changes import changes_view
from pytest_listingeval.report.confusion import confusion, enum_fields
from pytest_listingeval.report.gate_view import flaky_views, gate_info, inconclusive_views
from pytest_listingeval.report.thumbnails import resolve_image, thumbnail_data_uri, thumbnails_available


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


def _images(outcome: RunOutcome, root: Path) -> dict[str, str | None]:
    images: dict[str, str | None] = {}
    for case in outcome.cases:
        path = resolve_image(root, case.image)
        images[case.id] = thumbnail_data_uri(path) if path else None
    return images


def _options(cases: Sequence[view.CaseView]) -> tuple[list[str], list[str]]:
    fields: list[str] = []
    tags: list[str] = []
    for case in cases:
        fields.extend(f.name for f in case.fields if f.name not in fields)
        tags.extend(t for t in case.tags if t not in tags)
    return fields, sorted(tags)


def context(outcome: RunOutcome, root: Path) -> dict[str, Any]:
    """Build the template context of the full HTML report."""
    cases = view.case_views(outcome, _images(outcome, root))
    field_options, tag_options = _options(cases)
    groups: dict[str, int] = {}
    for case in cases:
        groups[case.group] = groups.get(case.group, 0) + 1
    config = outcome.config
    has_judge = any(f.judge_checks for case in cases for f in case.fields)
    return {
        "verdict": outcome.verdict,
        "reasons": run_view.verdict_reasons(outcome),
        "config": config,
        "summary": outcome.summary,
        "baseline": outcome.baseline,
        "comparison": outcome.comparison,
        "gate": gate_info(outcome),
        "coverage": run_view.coverage_view(outcome),
        "relabels": run_view.relabel_views(outcome),
        "not_compared": run_view.not_compared(outcome),
        "error_counts": run_view.error_counts(outcome),
        "inconclusive": inconclusive_views(outcome),
        "flaky": flaky_views(outcome),
        "judge_warnings": run_view.judge_warnings(outcome),
        "judge_model": (config.judge_model or config.model) if has_judge else None,
        "changes": changes_view(outcome),
        "field_rows": table_view.field_rows(outcome),
        "aggregate_rows": table_view.aggregate_rows(outcome),
        "confusions": [
            c for name in enum_fields(config.json_schema, field_options) if (c := confusion(outcome.cases, name))
        ],
        "cases": cases,
        "thumbnails": thumbnails_available(),
        "groups": groups,
        "group_labels": view.GROUP_LABELS,
        "field_options": field_options,
        "tag_options": tag_options,
        "harness_errors": outcome.harness_errors,
        "critical_misses": outcome.critical_misses,
        "added": outcome.comparison.added_cases if outcome.comparison else (),
        "removed": outcome.comparison.removed_cases if outcome.comparison else (),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_html(outcome: RunOutcome, root: Path) -> str:
    """Render the outcome as a self-contained HTML report; root resolves image paths."""
    return environment().get_template("report.html.j2").render(**context(outcome, root))


def write_html(outcome: RunOutcome, root: Path, path: Path) -> Path:
    """Render the HTML report and write it to path (parents created); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(outcome, root), encoding="utf-8")
    return path
