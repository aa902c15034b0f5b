"""Optional MLflow logging of an eval run: params, metrics, tags and the report files.

The MLflow run is opened before the verdict is decided (so an unreachable tracking server
is a harness error every output reports) and filled from the final outcome afterwards.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from pathlib import Path
from typing import Any

from pytest_listingeval.outcome import RunOutcome

DEFAULT_EXPERIMENT = "listingeval"
INSTALL_HINT = 'pip install "listingeval[mlflow]"'
MAX_PARAM_CHARS = 500


class MlflowUnavailable(RuntimeError):
    """MLflow logging was asked for but the mlflow package is not installed."""


def mlflow_enabled(flag: bool = False) -> bool:
    """True when `--eval-mlflow` was given or MLFLOW_TRACKING_URI is set."""
    return flag or bool(os.environ.get("MLFLOW_TRACKING_URI"))


def _import_mlflow() -> Any:
    try:
        return importlib.import_module("mlflow")
    except ImportError as exc:
        raise MlflowUnavailable(
            f"MLflow logging is enabled (--eval-mlflow or MLFLOW_TRACKING_URI) but mlflow is not "
            f"installed: {INSTALL_HINT}"
        ) from exc


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_PARAM_CHARS]


def run_params(outcome: RunOutcome) -> dict[str, str]:
    """MLflow params: model, prompt, prompt_id, schema_id and every generation parameter."""
    config = outcome.config
    params = {
        "model": _text(config.model),
        "prompt": _text(config.prompt),
        "prompt_id": _text(config.prompt_id),
        "schema_id": _text(config.schema_id),
    }
    for key, value in sorted(config.params.items()):
        params[f"params.{key}"] = _text(value)
    return params


def run_metrics(outcome: RunOutcome) -> dict[str, float]:
    """MLflow metrics: overall, exact_cases, accuracy.<field>, errors, cases, tokens, cost, time."""
    summary = outcome.summary
    metrics: dict[str, float | None] = {
        "overall": summary.overall,
        "exact_cases": summary.exact_cases,
        "errors": summary.errors,
        "harness_errors": summary.harness_errors,
        "cases": summary.cases,
        "input_tokens": summary.usage.input_tokens,
        "output_tokens": summary.usage.output_tokens,
        "cost_usd": summary.cost_usd,
        "duration_s": summary.duration_s,
        "latency_ms.p50": summary.latency_ms.p50,
        "latency_ms.p95": summary.latency_ms.p95,
    }
    for name, row in sorted(summary.fields.items()):
        metrics[f"accuracy.{name}"] = row.accuracy
    return {key: float(value) for key, value in metrics.items() if value is not None}


def run_tags(outcome: RunOutcome) -> dict[str, str]:
    """MLflow tags: verdict, partial, git sha and dirtiness, run id, case set and baseline source."""
    tags: dict[str, Any] = {
        "verdict": outcome.verdict,
        "listingeval.partial": outcome.partial,
        "git_sha": outcome.config.git_sha,
        "git_dirty": outcome.config.git_dirty,
        "listingeval.run_id": outcome.run.id,
        "listingeval.case_set": outcome.run.case_set or None,
        "listingeval.baseline": outcome.baseline.source if outcome.baseline else None,
    }
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in tags.items() if v is not None}


class MlflowRun:
    """One MLflow run: opened early, filled (possibly again) from the final outcome, then closed."""

    def __init__(self, run_name: str, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        """Connect, find or create the experiment and create the run (raises on any fault)."""
        mlflow = _import_mlflow()
        self._entities = importlib.import_module("mlflow.entities")
        self._client = mlflow.MlflowClient(tracking_uri=tracking_uri) if tracking_uri else mlflow.MlflowClient()
        name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        found = self._client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else self._client.create_experiment(name)
        run = self._client.create_run(experiment_id, run_name=run_name)
        self.run_id: str = run.info.run_id
        self._timestamp = int(run.info.start_time or 0)

    def log(self, outcome: RunOutcome, artifacts: list[Path]) -> str:
        """Log params, metrics, tags, the prompt and the report files; returns the MLflow run id."""
        entities = self._entities
        self._client.log_batch(
            self.run_id,
            metrics=[entities.Metric(k, v, self._timestamp, 0) for k, v in run_metrics(outcome).items()],
            params=[entities.Param(k, v) for k, v in run_params(outcome).items()],
            tags=[entities.RunTag(k, v) for k, v in run_tags(outcome).items()],
        )
        if outcome.config.prompt_text:
            self._client.log_text(self.run_id, outcome.config.prompt_text, "prompt.txt")
        for path in artifacts:
            if path.is_file():
                self._client.log_artifact(self.run_id, str(path))
        return self.run_id

    def close(self, ok: bool) -> None:
        """Mark the run finished or failed (best effort: the outcome is already decided)."""
        # mlflow raises many types; a run left open is not worth a second error.
        with contextlib.suppress(Exception):
            self._client.set_terminated(self.run_id, status="FINISHED" if ok else "FAILED")


def log_run(
    outcome: RunOutcome,
    artifacts: list[Path],
    *,
    enabled: bool | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
) -> str | None:
    """Log one finished outcome to MLflow in one go; None when logging is off."""
    if not (enabled if enabled is not None else mlflow_enabled()):
        return None
    run = MlflowRun(outcome.run.id, tracking_uri, experiment)
    ok = False
    try:
        run_id = run.log(outcome, artifacts)
        ok = True
        return run_id
    finally:
        run.close(ok)
