"""The drift keys of `[tool.listingeval.online]`: defaults, the other keys tolerated, bad values refused in one line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from extractor.errors import ConfigError
from extractor.service.config import load_config
from extractor.service.quality.settings import DEFAULT_MIN_COUNT, DriftSettings

pytestmark = pytest.mark.service


def _project(tmp_path: Path, online: str, cases: str = "cases") -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.listingeval]\ncases = "{cases}"\n\n[tool.listingeval.online]\n{online}\n', encoding="utf-8"
    )
    return tmp_path


def test_defaults_without_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.listingeval]\n", encoding="utf-8")
    drift = load_config(start=tmp_path).drift
    assert drift == DriftSettings()
    assert drift.window == timedelta(hours=1) and drift.refresh == timedelta(hours=1)
    assert drift.reference == "previous" and drift.min_count == DEFAULT_MIN_COUNT and drift.cases_dir is None


def test_drift_keys_are_read_beside_the_online_checks(tmp_path: Path) -> None:
    online = (
        'drift_window = "30s"\ndrift_interval = "10s"\ndrift_min_count = 50\ndrift_reference = "eval"\n'
        "checks = {title = {max_len = 80}}\n"
    )
    (tmp_path / "evalset").mkdir()
    drift = load_config(start=_project(tmp_path, online, cases="evalset")).drift
    assert drift.window == timedelta(seconds=30) and drift.refresh == timedelta(seconds=10)
    assert drift.min_count == 50 and drift.reference == "eval" and drift.cases_dir == tmp_path / "evalset"


@pytest.mark.parametrize(
    ("online", "message"),
    [
        ('drift_window = "5x"', 'drift_window must be a duration such as "1h", "15m" or "30s", not \'5x\''),
        ("drift_window = 60", "drift_window must be a duration"),
        ('drift_window = "0s"', "drift_window must be a duration"),
        ('drift_interval = "1 h"', "drift_interval must be a duration"),
        ('drift_reference = "yesterday"', 'drift_reference must be "previous" or "eval", not \'yesterday\''),
        ("drift_min_count = 0", "drift_min_count must be a whole number >= 1, not 0"),
        ("drift_min_count = true", "drift_min_count must be a whole number >= 1, not True"),
        ('drift_reference = "eval"', 'drift_reference = "eval" needs the cases folder'),
    ],
)
def test_a_bad_value_is_a_one_line_config_error(tmp_path: Path, online: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(start=_project(tmp_path, online))
    text = str(raised.value)
    assert text.startswith("[tool.listingeval.online] ") and message in text and "\n" not in text


def test_the_table_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.listingeval]\nonline = "on"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^\[tool\.listingeval\.online\] must be a table$"):
        load_config(start=tmp_path)
