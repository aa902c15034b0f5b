"""Optional MLflow logging of an eval run: params, metrics, tags and the report files."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def run_params(outcome: Mapping[str, Any]) -> dict[str, str]:
    """MLflow params: model, prompt, prompt_id, schema_id and every generation parameter."""
    config = outcome.get("config") or {}
    params = {k: _text(config.get(k)) for k in ("model", "prompt", "prompt_id", "schema_id")}
    for key, value in sorted((config.get("params") or {}).items()):
        params[f"params.{key}"] = _text(value)
    return params


def _num(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def run_metrics(outcome: Mapping[str, Any]) -> dict[str, float]:
    """MLflow metrics: overall, exact_cases, accuracy.<field>, errors, cases, tokens, cost, time."""
    summary = outcome.get("summary") or {}
    usage = summary.get("usage") or {}
    latency = summary.get("latency_ms") or {}
    candidates: dict[str, Any] = {
        "overall": summary.get("overall"),
        "exact_cases": summary.get("exact_cases"),
        "errors": summary.get("errors"),
        "cases": summary.get("cases"),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "cost_usd": summary.get("cost_usd"),
        "duration_s": summary.get("duration_s"),
        "latency_ms.p50": latency.get("p50") if isinstance(latency, dict) else None,
        "latency_ms.p95": latency.get("p95") if isinstance(latency, dict) else None,
    }
    for name, row in sorted((summary.get("fields") or {}).items()):
        candidates[f"accuracy.{name}"] = row.get("accuracy") if isinstance(row, dict) else None
    return {k: v for k, raw in candidates.items() if (v := _num(raw)) is not None}


def run_tags(outcome: Mapping[str, Any]) -> dict[str, str]:
    """MLflow tags: verdict, git sha and dirtiness, run id, case set and baseline source."""
    config = outcome.get("config") or {}
    run = outcome.get("run") or {}
    baseline = outcome.get("baseline") or {}
    tags = {
        "verdict": outcome.get("verdict"),
        "git_sha": config.get("git_sha"),
        "git_dirty": config.get("git_dirty"),
        "listingeval.run_id": outcome.get("run_id") or run.get("id"),
        "listingeval.case_set": run.get("case_set"),
        "listingeval.baseline": baseline.get("source") if isinstance(baseline, dict) else None,
    }
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in tags.items() if v is not None}


def log_run(
    outcome: Mapping[str, Any],
    artifacts: list[Path],
    *,
    enabled: bool | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
) -> str | None:
    """Log one eval run to MLflow and return its MLflow run id; None when logging is off.

    Logging is on when `enabled` is true, or (enabled=None) when MLFLOW_TRACKING_URI is set.
    """
    if not (enabled if enabled is not None else mlflow_enabled()):
        return None
    mlflow = _import_mlflow()
    entities = importlib.import_module("mlflow.entities")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri) if tracking_uri else mlflow.MlflowClient()
    name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
    run_name = outcome.get("run_id") or (outcome.get("run") or {}).get("id")
    run = client.create_run(experiment_id, run_name=str(run_name) if run_name else None)
    run_id: str = run.info.run_id
    status = "FAILED"
    try:
        timestamp = int(run.info.start_time or 0)
        client.log_batch(
            run_id,
            metrics=[entities.Metric(k, v, timestamp, 0) for k, v in run_metrics(outcome).items()],
            params=[entities.Param(k, v) for k, v in run_params(outcome).items()],
            tags=[entities.RunTag(k, v) for k, v in run_tags(outcome).items()],
        )
        prompt_text = (outcome.get("config") or {}).get("prompt_text")
        if isinstance(prompt_text, str) and prompt_text:
            client.log_text(run_id, prompt_text, "prompt.txt")
        for path in artifacts:
            if Path(path).is_file():
                client.log_artifact(run_id, str(path))
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status=status)
    return run_id
