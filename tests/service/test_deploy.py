"""The Prometheus rules and the Grafana dashboard shipped in deploy/ are valid and complete."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.service

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
@pytest.mark.parametrize("args", [["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]])
def test_promtool_accepts_the_rules(args: list[str]) -> None:
    result = subprocess.run(
        [str(PROMTOOL), *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_covers_the_dashboard_figures() -> None:
    board = json.loads((DEPLOY / "grafana" / "listingeval.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for metric in (
        "listingeval_requests_total",
        "listingeval_latency_seconds_bucket",
        "listingeval_feedback_total",
        "listingeval_corrections_total",
        "listingeval_finals_total",
        "listingeval_tokens_total",
    ):
        assert metric in exprs, metric
    titles = {p["title"] for p in board["panels"]}
    assert {"Error rate", "Empty-output rate", "Latency p50 and p95", "Thumbs-up rate"} <= titles
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
