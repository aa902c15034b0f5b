"""Write what a run produced: results JSON, HTML report, markdown, run record."""

from __future__ import annotations

import hashlib
import json
import secrets
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_listingeval.mlflow_log import log_run, mlflow_enabled
from pytest_listingeval.runs import index_record
from pytest_listingeval.session import EvalSession


def case_set_hash(outcome: dict[str, Any]) -> str:
    """sha256 (first 12 hex) of the case ids and their expected values: same set, same hash."""
    canonical = json.dumps(
        [[c["id"], {k: v["expected"] for k, v in c["fields"].items()}] for c in outcome["cases"]],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def run_record(outcome: dict[str, Any], started_at: datetime) -> dict[str, Any]:
    """The run record: the outcome plus when, how and on which case set it ran."""
    run_id = f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    return {
        "run": {
            "id": run_id,
            "time": started_at.isoformat(timespec="seconds"),
            "command": shlex.join(["pytest", *sys.argv[1:]]),
            "case_set": case_set_hash(outcome),
        },
        **outcome,
    }


def _fail(outcome: dict[str, Any], message: str) -> None:
    outcome["harness_errors"].append(message)
    outcome["verdict"] = "error"


def _writable(path: Path) -> None:
    """Create the folder and open the file, so an unwritable path fails before anything is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8"):
        pass


def write_outputs(state: EvalSession, outcome: dict[str, Any], step_summary: str | None) -> None:
    """Write every requested output; any failure becomes a harness error recorded in the JSON, written last."""
    settings = state.settings
    written: dict[str, str] = {}
    outcome["written"] = written
    for path in (settings.report_path, settings.markdown_path, settings.json_path):
        if path is not None:
            try:
                _writable(path)
            except OSError as exc:
                _fail(outcome, f"cannot write {path}: {exc.strerror or exc}")
    documents: dict[str, tuple[Path, str]] = {}
    try:
        if settings.report_path is not None:
            from pytest_listingeval.report.html import render_html

            documents["HTML report"] = (settings.report_path, render_html(outcome, settings.root))
        if settings.markdown_path is not None or step_summary:
            from pytest_listingeval.report.markdown import append_step_summary, render_markdown

            markdown = render_markdown(outcome, settings.report_url)
            if settings.markdown_path is not None:
                documents["markdown"] = (settings.markdown_path, markdown)
            if step_summary:
                append_step_summary(markdown)
    except Exception as exc:  # a rendering bug must not crash the session or pass silently
        _fail(outcome, f"cannot render the reports: {type(exc).__name__}: {exc}")
    for label, (path, text) in documents.items():
        try:
            _write_text(path, text)
            written[label] = str(path)
        except OSError as exc:
            _fail(outcome, f"cannot write {path}: {exc.strerror or exc}")
    if settings.runs_dir is not None:
        try:
            record = run_record(outcome, datetime.now(UTC))
            path = settings.runs_dir / f"{record['run']['id']}.json"
            _write_text(path, _dump(record))
            index_record(path, record)
            outcome["run_id"] = record["run"]["id"]
            written["run record"] = str(path)
        except OSError as exc:
            _fail(outcome, f"cannot write the run record: {exc.strerror or exc}")
    if mlflow_enabled(settings.mlflow):
        _log_to_mlflow(outcome, [Path(p) for p in written.values()])
        if outcome.get("mlflow_run_id"):
            written["MLflow run"] = str(outcome["mlflow_run_id"])
    if settings.json_path is not None:
        try:
            written["results JSON"] = str(settings.json_path)
            _write_text(settings.json_path, _dump(outcome))
        except OSError as exc:
            written.pop("results JSON", None)
            _fail(outcome, f"cannot write {settings.json_path}: {exc.strerror or exc}")


def _log_to_mlflow(outcome: dict[str, Any], artifacts: list[Path]) -> None:
    """Log the run to MLflow; asked for but failing is a harness error, never a silent skip."""
    try:
        outcome["mlflow_run_id"] = log_run(outcome, artifacts, enabled=True)
    except Exception as exc:  # mlflow raises many types (connection, REST, store errors)
        outcome["harness_errors"].append(f"MLflow logging failed: {exc}")
        outcome["verdict"] = "error"
