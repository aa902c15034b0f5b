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

try:
    from tests.plugin.test_runs_support import pair_of_runs, write_json
except ImportError:  # tests/plugin is not a package: pytest put it on sys.path itself
    from test_runs_support import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        pair_of_runs,
        write_json,
    )

HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None


@pytest.fixture
def outcome() -> dict[str, Any]:
    _, b = pair_of_runs()
    b["run_id"] = b["run"]["id"]
    b["baseline"] = {"source": "main:reports/baseline.json"}
    return b


def test_params_metrics_and_tags(outcome: dict[str, Any]) -> None:
    params = run_params(outcome)
    assert params["model"] == "gpt-4.1" and params["prompt"] == "concise"
    assert params["prompt_id"].startswith("concise-") and params["schema_id"] == "11112222"
    assert params["params.temperature"] == "0.2" and params["params.max_output_tokens"] == "1024"
    metrics = run_metrics(outcome)
    summary = outcome["summary"]
    assert metrics["overall"] == summary["overall"] and metrics["exact_cases"] == summary["exact_cases"]
    assert metrics["accuracy.category"] == summary["fields"]["category"]["accuracy"]
    assert {"accuracy.color", "accuracy.title", "errors", "cases", "input_tokens", "output_tokens"} <= set(metrics)
    assert metrics["errors"] == 1.0 and metrics["cost_usd"] == 0.0123
    tags = run_tags(outcome)
    assert tags["verdict"] == "regression" and tags["git_dirty"] == "false"
    assert tags["git_sha"] == outcome["config"]["git_sha"]
    assert tags["listingeval.run_id"] == outcome["run_id"]
    assert tags["listingeval.baseline"] == "main:reports/baseline.json"


def test_missing_values_are_left_out(outcome: dict[str, Any]) -> None:
    outcome["summary"]["cost_usd"] = None
    outcome["config"]["git_sha"] = None
    assert "cost_usd" not in run_metrics(outcome)
    assert "git_sha" not in run_tags(outcome)


def test_off_unless_asked_or_a_tracking_uri_is_set(outcome: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert not mlflow_enabled() and mlflow_enabled(True)
    assert log_run(outcome, []) is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///nowhere")
    assert mlflow_enabled()


def test_enabled_without_mlflow_is_a_clear_error(outcome: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
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
def test_logs_to_a_local_file_store(outcome: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    assert run.info.status == "FINISHED" and run.info.run_name == outcome["run_id"]
    assert run.data.params["model"] == "gpt-4.1"
    assert run.data.metrics["accuracy.category"] == outcome["summary"]["fields"]["category"]["accuracy"]
    assert run.data.metrics["overall"] == outcome["summary"]["overall"]
    assert run.data.tags["verdict"] == "regression"
    assert artifacts == ["prompt.txt", "report.html", "run.json"]
