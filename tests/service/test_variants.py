"""Variant assignment and configuration: shares follow the weights, users stay put."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from extractor.errors import ConfigError
from extractor.service.config import Variant, load_config
from extractor.service.extraction.variants import assign, bucket

pytestmark = pytest.mark.service

USERS = [f"user-{i}" for i in range(5000)]


@pytest.mark.parametrize(
    "weights",
    [(1, 1), (0.9, 0.1), (70, 20, 10), (1, 0, 3)],
    ids=["50-50", "90-10", "70-20-10", "zero-weight"],
)
def test_split_within_two_points_of_the_weights(weights: tuple[float, ...]) -> None:
    variants = [Variant(f"v{i}", "m", "default", w) for i, w in enumerate(weights)]
    counts = Counter(assign(variants, "salt-1", user).name for user in USERS)
    total = sum(weights)
    for variant in variants:
        share = counts[variant.name] / len(USERS)
        assert abs(share - variant.weight / total) <= 0.02, (variant.name, share)


def test_a_user_always_gets_the_same_variant() -> None:
    variants = [Variant("a", "m", "default", 1), Variant("b", "m", "default", 1)]
    first = {user: assign(variants, "s", user).name for user in USERS[:500]}
    assert all(assign(variants, "s", user).name == name for user, name in first.items())


def test_the_salt_reshuffles_users() -> None:
    moved = sum(bucket("one", u) != bucket("two", u) for u in USERS[:100])
    assert moved == 100
    assert all(0 <= bucket("s", u) < 1 for u in USERS)


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.listingeval]\nmodel = 'gpt-4.1-mini'\n{table}")
    return tmp_path


def test_no_variants_means_one_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTINGEVAL_ADMIN_TOKEN", raising=False)
    config = load_config(start=_project(tmp_path, ""))
    assert config.variants == (Variant("default", "gpt-4.1-mini", "default", 1.0),)
    assert config.db_url == "sqlite:///listingeval.db"
    assert config.admin_token is None


def test_variants_salt_and_defaults_from_pyproject(tmp_path: Path) -> None:
    table = """experiment_salt = "spring"
[tool.listingeval.variants.control]
weight = 9
[tool.listingeval.variants.concise]
prompt = "concise"
model = "gpt-4.1"
weight = 1
[tool.listingeval.service]
deadline_s = 12.5
"""
    config = load_config(start=_project(tmp_path, table))
    assert config.salt == "spring"
    assert config.deadline_s == 12.5
    assert config.variant("control") == Variant("control", "gpt-4.1-mini", "default", 9.0)
    assert config.variant("concise") == Variant("concise", "gpt-4.1", "concise", 1.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[tool.listingeval.variants.x]\nprompt = 'nope'\n", "unknown prompt"),
        ("[tool.listingeval.variants.x]\nweight = -1\n", "weight"),
        ("[tool.listingeval.variants.x]\nweight = 0\n", "add up to zero"),
        ("[tool.listingeval.variants.x]\ntemperature = 1\n", "unknown keys"),
    ],
)
def test_bad_variant_config_fails_at_start(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(start=_project(tmp_path, table))
