"""Optional MLflow logging: what is logged, when it is on, and the error when mlflow is missing."""

from __future__ import annotations

import builtins
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.mlflow_log import (
    MlflowUnavailable,
    log_run,
    mlflow_enabled,
    run_metrics,
    run_params,
    run_tags,
)
from pytest_listingeval.outcome import BaselineInfo, RunOutcome
from tests.plugin.test_runs_support import pair_of_runs, write_json

HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None


@pytest.fixture
def outcome() -> RunOutcome:
    _, b = pair_of_runs()
    return b.model_copy(update={"baseline": BaselineInfo(source="main:reports/baseline.json"), "partial": True})


def test_params_metrics_and_tags(outcome: RunOutcome) -> None:
    params = run_params(outcome)
    assert params["model"] == "gpt-4.1" and params["prompt"] == "concise"
    assert params["prompt_id"].startswith("concise-") and params["schema_id"] == "11112222"
    assert params["params.temperature"] == "0.2" and params["params.max_output_tokens"] == "1024"
    metrics = run_metrics(outcome)
    summary = outcome.summary
    assert metrics["overall"] == summary.overall and metrics["exact_cases"] == summary.exact_cases
    assert metrics["accuracy.category"] == summary.fields["category"].accuracy
    assert {"accuracy.color", "accuracy.title", "errors", "cases", "input_tokens", "output_tokens"} <= set(metrics)
    assert {"harness_errors", "duration_s", "latency_ms.p50", "latency_ms.p95"} <= set(metrics)
    assert metrics["errors"] == 1.0 and metrics["cost_usd"] == 0.0123 and metrics["cases"] == 5.0
    assert metrics["input_tokens"] == 3600.0 and metrics["duration_s"] == 12.5
    assert all(isinstance(value, float) for value in metrics.values())
    tags = run_tags(outcome)
    assert tags["verdict"] == "regression" and tags["git_dirty"] == "false"
    assert tags["listingeval.partial"] == "true"
    assert tags["git_sha"] == outcome.config.git_sha
    assert tags["listingeval.run_id"] == outcome.run.id
    assert tags["listingeval.case_set"] == outcome.run.case_set
    assert tags["listingeval.baseline"] == "main:reports/baseline.json"


def test_long_params_are_cut_to_mlflows_limit(outcome: RunOutcome) -> None:
    config = outcome.config.model_copy(update={"params": {"stop": ["x" * 400, "y" * 400]}})
    params = run_params(outcome.model_copy(update={"config": config}))
    assert len(params["params.stop"]) == 500 and params["params.stop"].startswith('["xxx')


def test_missing_values_are_left_out(outcome: RunOutcome) -> None:
    bare = outcome.model_copy(
        update={
            "summary": outcome.summary.model_copy(update={"cost_usd": None}),
            "config": outcome.config.model_copy(update={"git_sha": None}),
            "baseline": None,
        }
    )
    assert "cost_usd" not in run_metrics(bare)
    tags = run_tags(bare)
    assert "git_sha" not in tags and "listingeval.baseline" not in tags


def test_off_unless_asked_or_a_tracking_uri_is_set(outcome: RunOutcome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert not mlflow_enabled() and mlflow_enabled(True)
    assert log_run(outcome, []) is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///nowhere")
    assert mlflow_enabled()


def test_enabled_without_mlflow_is_a_clear_error(outcome: RunOutcome, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_mlflow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "mlflow" or name.startswith("mlflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    monkeypatch.setattr(importlib, "import_module", lambda name: no_mlflow(name))
    with pytest.raises(MlflowUnavailable, match=r'pip install "listingeval\[mlflow\]"'):
        log_run(outcome, [], enabled=True)


@pytest.mark.skipif(not HAS_MLFLOW, reason='mlflow is not installed (pip install "listingeval[mlflow]")')
def test_logs_to_a_local_file_store(outcome: RunOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow 3 refuses the file store unless this is set; it is the zero-setup local backend.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    record = write_json(tmp_path / "run.json", outcome)
    report = tmp_path / "report.html"
    report.write_text("<html></html>", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_id = log_run(outcome, [record, report, tmp_path / "not-written.md"])
        assert run_id is not None
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=uri)
        run = client.get_run(run_id)
        artifacts = sorted(a.path for a in client.list_artifacts(run_id))
        experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "listingeval"
    assert run.info.status == "FINISHED" and run.info.run_name == outcome.run.id
    assert run.data.params["model"] == "gpt-4.1"
    assert run.data.metrics["accuracy.category"] == outcome.summary.fields["category"].accuracy
    assert run.data.metrics["overall"] == outcome.summary.overall
    assert run.data.tags["verdict"] == "regression"
    assert artifacts == ["prompt.txt", "report.html", "run.json"]
