"""Harness settings: `[tool.listingeval]`, command-line options and environment variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval.cassettes import RECORD_MODES
from pytest_listingeval.judge_calibration import DEFAULT_CALIBRATION_PATH, DEFAULT_MIN_KAPPA, min_kappa_setting
from pytest_listingeval.outcome import GATE_MODES
from pytest_listingeval.project import cases_folder


@dataclass(frozen=True)
class HarnessSettings:
    """Everything a run needs to know, resolved once per process."""

    root: Path
    invocation_dir: Path
    node_root: Path
    task: str
    model: str
    prompt: str
    cases_root: Path
    cassettes_root: Path
    baseline_path: Path
    record_mode: str
    tolerance_points: float
    gate_mode: str
    alpha: float
    baseline_ref: str | None
    update_baseline: bool
    json_path: Path | None
    report_path: Path | None
    markdown_path: Path | None
    report_url: str | None
    runs_dir: Path | None
    repeat: int = 1
    judge_model: str | None = None
    mlflow: bool = False
    concurrency: int = 1
    allow_subset: bool = False
    min_shared: int = 1
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    judge_calibration: Path = Path(DEFAULT_CALIBRATION_PATH)
    judge_min_kappa: float = DEFAULT_MIN_KAPPA

    @property
    def tolerance(self) -> float:
        """Tolerance in accuracy units (0..1); configured in points (1 point = 0.01)."""
        return self.tolerance_points / 100.0

    @property
    def explicit_eval(self) -> bool:
        """True when an option only an eval run uses was given: the run must then evaluate cases."""
        return bool(
            self.baseline_ref or self.update_baseline or self.json_path or self.report_path or self.markdown_path
        )

    @property
    def recording(self) -> bool:
        """True when cassettes may be written (a live API is called for missing answers)."""
        return self.record_mode != "none"


def table_file(config: pytest.Config) -> Path:
    """The pyproject.toml that holds `[tool.listingeval]`: the loaded config file or the one beside it."""
    inipath = config.inipath
    # No config file, or `-c /dev/null`: nothing says where the project is but the rootdir.
    if inipath is None or not inipath.is_file():
        return config.rootpath / "pyproject.toml"
    return inipath if inipath.name == "pyproject.toml" else inipath.parent / "pyproject.toml"


def read_table(path: Path) -> dict[str, Any]:
    """`[tool.listingeval]` from the pyproject.toml at `path`, or an empty dict when there is none."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise pytest.UsageError(f"cannot read {path}: {exc}") from exc
    table = data.get("tool", {}).get("listingeval", {})
    return table if isinstance(table, dict) else {}


def _path(root: Path, value: str | None) -> Path | None:
    return None if not value else (root / value)


def resolve(config: pytest.Config) -> HarnessSettings:
    """Merge options over environment over `[tool.listingeval]` over defaults."""
    source = table_file(config)
    # Relative paths in the table are relative to the file holding it, wherever the rootdir is.
    root = source.parent
    here = config.invocation_params.dir
    table = read_table(source)
    option = config.option

    def pick(opt: Any, env: str, key: str, default: Any) -> Any:
        if opt is not None:
            return opt
        if os.environ.get(env):
            return os.environ[env]
        return table.get(key, default)

    record_mode = getattr(option, "record_mode", None) or "none"
    if record_mode not in RECORD_MODES:
        raise pytest.UsageError(f"--record-mode must be one of {', '.join(RECORD_MODES)}")
    gate_mode = pick(option.eval_gate, "LISTINGEVAL_GATE", "gate", "strict")
    if gate_mode not in GATE_MODES:
        raise pytest.UsageError(f"--eval-gate must be one of {', '.join(GATE_MODES)}, got {gate_mode!r}")
    try:
        tolerance = float(pick(option.eval_tolerance, "LISTINGEVAL_TOLERANCE", "tolerance", 0.0))
        alpha = float(pick(option.eval_alpha, "LISTINGEVAL_ALPHA", "alpha", 0.05))
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"tolerance and alpha must be numbers: {exc}") from exc
    if not 0 <= tolerance <= 100:
        raise pytest.UsageError(f"--eval-tolerance is in accuracy points (0-100), got {tolerance}")
    if not 0 < alpha < 1:
        raise pytest.UsageError(f"--eval-alpha must be between 0 and 1, got {alpha}")
    try:
        repeat = int(pick(option.eval_repeat, "LISTINGEVAL_REPEAT", "repeat", 1))
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"--eval-repeat must be a whole number: {exc}") from exc
    try:
        concurrency = int(pick(option.eval_concurrency, "LISTINGEVAL_CONCURRENCY", "concurrency", 1))
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"--eval-concurrency must be a whole number: {exc}") from exc
    if concurrency < 1:
        raise pytest.UsageError(f"--eval-concurrency must be at least 1, got {concurrency}")
    if repeat < 1:
        raise pytest.UsageError(f"--eval-repeat must be at least 1, got {repeat}")
    try:
        min_shared = int(pick(option.eval_min_shared, "LISTINGEVAL_MIN_SHARED", "min_shared", 1))
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"--eval-min-shared must be a whole number: {exc}") from exc
    if min_shared < 1:
        raise pytest.UsageError(f"--eval-min-shared must be at least 1, got {min_shared}")
    try:
        min_kappa = min_kappa_setting(table.get("judge_min_kappa", DEFAULT_MIN_KAPPA))
    except ValueError as exc:
        raise pytest.UsageError(f"[tool.listingeval] {exc}") from exc
    prices = table.get("prices", {})
    return HarnessSettings(
        root=root,
        invocation_dir=here,
        node_root=config.rootpath,
        task=str(table.get("task", "")),
        model=str(pick(option.eval_model, "LISTINGEVAL_MODEL", "model", "")),
        prompt=str(pick(option.eval_prompt, "LISTINGEVAL_PROMPT", "prompt", "default")),
        cases_root=cases_folder(root, table),
        cassettes_root=root / str(table.get("cassettes", "cassettes")),
        baseline_path=root / str(table.get("baseline", "reports/baseline.json")),
        record_mode=record_mode,
        tolerance_points=tolerance,
        gate_mode=gate_mode,
        alpha=alpha,
        baseline_ref=option.eval_baseline,
        update_baseline=bool(option.eval_update_baseline),
        json_path=_path(here, option.eval_json),
        report_path=_path(here, option.eval_report),
        markdown_path=_path(here, option.eval_markdown),
        report_url=option.eval_report_url or os.environ.get("LISTINGEVAL_REPORT_URL") or None,
        runs_dir=None if option.eval_no_run_record else root / str(table.get("runs", "reports/runs")),
        prices=prices if isinstance(prices, dict) else {},
        repeat=repeat,
        mlflow=bool(option.eval_mlflow),
        concurrency=concurrency,
        allow_subset=bool(option.eval_allow_subset or table.get("allow_subset", False)),
        min_shared=min_shared,
        judge_model=pick(option.eval_judge_model, "LISTINGEVAL_JUDGE_MODEL", "judge_model", None),
        judge_calibration=root / str(table.get("judge_calibration", DEFAULT_CALIBRATION_PATH)),
        judge_min_kappa=min_kappa,
    )
