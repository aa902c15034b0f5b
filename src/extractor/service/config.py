"""Service configuration: variants, experiment salt, database URL, limits and the admin token."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractor.errors import ConfigError
from extractor.prompts import load_prompt
from extractor.service.online.settings import OnlineSettings, parse_online
from extractor.service.quality.settings import DriftSettings, parse_drift
from extractor.service.rollout.settings import RolloutSettings, parse_rollout
from extractor.settings import Settings, find_pyproject, load_settings, project_table
from pytest_listingeval.project import cases_folder

DEFAULT_DB_URL = "sqlite:///listingeval.db"
DEFAULT_SALT = "listingeval"
ADMIN_TOKEN_ENV = "LISTINGEVAL_ADMIN_TOKEN"
SESSION_SECRET_ENV = "LISTINGEVAL_SESSION_SECRET"
DEFAULT_SESSION_TTL_S = 12 * 3600
DEFAULT_REVIEW_LEASE_S = 600.0
# JSON bodies (feedback, final listings, reviews) and forms are small; this is ample for the largest.
DEFAULT_MAX_JSON_BYTES = 256 * 1024
# A body that stalls this long between two chunks, or takes this long in all, is answered 408:
# a client trickling its body (slowloris) cannot hold a connection and a worker for ever.
DEFAULT_BODY_IDLE_TIMEOUT_S = 30.0
DEFAULT_BODY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Variant:
    """One arm of the experiment: the model and prompt it uses and its share of users."""

    name: str
    model: str
    prompt: str
    weight: float


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service needs besides the extractor itself."""

    variants: tuple[Variant, ...]
    db_url: str = DEFAULT_DB_URL
    salt: str = DEFAULT_SALT
    admin_token: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    body_idle_timeout_s: float = DEFAULT_BODY_IDLE_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    deadline_s: float = 60.0
    model_workers: int = 64
    review_lease_s: float = DEFAULT_REVIEW_LEASE_S
    session_secret: str | None = None
    session_ttl_s: int = DEFAULT_SESSION_TTL_S
    allow_plain_http: bool = False
    public_origin: str | None = None
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    # The drift keys of `[tool.listingeval.online]`.
    drift: DriftSettings = field(default_factory=DriftSettings)
    # `[tool.listingeval.prices."<model>"]`: USD per million input and output tokens.
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    # `[tool.listingeval.online]`: checks on every served output and the sampled judge.
    online: OnlineSettings = field(default_factory=OnlineSettings)
    settings: Settings = field(default_factory=Settings)

    def variant(self, name: str) -> Variant:
        """The variant called `name` (KeyError when unknown)."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)


def parse_variants(table: dict[str, Any], settings: Settings) -> tuple[Variant, ...]:
    """Variants from `[tool.listingeval.variants.<name>]`; none configured gives `default`."""
    raw = table.get("variants") or {}
    if not isinstance(raw, dict):
        raise ConfigError("[tool.listingeval.variants] must be a table of tables")
    if not raw:
        return (Variant("default", settings.model, settings.prompt, 1.0),)
    variants = []
    for name, spec in sorted(raw.items()):
        if not isinstance(spec, dict):
            raise ConfigError(f"[tool.listingeval.variants.{name}] must be a table")
        unknown = set(spec) - {"model", "prompt", "weight"}
        if unknown:
            raise ConfigError(f"[tool.listingeval.variants.{name}]: unknown keys {sorted(unknown)}")
        weight = spec.get("weight", 1.0)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
            raise ConfigError(f"[tool.listingeval.variants.{name}] weight must be a number >= 0")
        prompt = str(spec.get("prompt") or settings.prompt)
        load_prompt(prompt)  # an unknown prompt fails at start-up, not on the first request
        variants.append(Variant(name, str(spec.get("model") or settings.model), prompt, float(weight)))
    if sum(v.weight for v in variants) <= 0:
        raise ConfigError("[tool.listingeval.variants]: the weights add up to zero")
    return tuple(variants)


def _positive_int(table: dict[str, Any], key: str, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"[tool.listingeval.service] {key} must be a whole number > 0")
    return value


def _positive_seconds(table: dict[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < float("inf"):
        raise ConfigError(f"[tool.listingeval.service] {key} must be a number of seconds > 0")
    return float(value)


def _flag(table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"[tool.listingeval.service] {key} must be true or false")
    return value


def _origin(value: Any) -> str | None:
    """`public_origin` as `scheme://host[:port]`, the origin browsers send when it is behind a proxy."""
    if value is None or value == "":
        return None
    text = str(value).strip().rstrip("/").lower()
    scheme, sep, host = text.partition("://")
    if not sep or scheme not in ("http", "https") or not host or "/" in host:
        raise ConfigError(f"[tool.listingeval.service] public_origin must look like https://host[:port], not {value!r}")
    return text


def _prices(value: Any) -> dict[str, dict[str, float]]:
    """The price table; a model whose entry is not numbers is left unpriced (its cost unknown)."""
    if not isinstance(value, dict):
        return {}
    prices = {}
    for model, entry in value.items():
        if isinstance(entry, dict):
            try:
                prices[str(model)] = {
                    k: float(v) for k, v in entry.items() if k in ("input_per_mtok", "output_per_mtok")
                }
            except (TypeError, ValueError):
                continue
    return prices


def _cases_dir(start: Path | None, table: dict[str, Any]) -> Path:
    """The project's eval cases folder (`[tool.listingeval] cases`, beside the pyproject.toml)."""
    pyproject = find_pyproject(start)
    return cases_folder(pyproject.parent if pyproject else (start or Path.cwd()), table)


def load_config(db_url: str | None = None, start: Path | None = None) -> ServiceConfig:
    """The service configuration from `[tool.listingeval]`, the environment and overrides."""
    table = project_table(start)
    settings = load_settings(start)
    service = table.get("service") or {}
    if not isinstance(service, dict):
        raise ConfigError("[tool.listingeval.service] must be a table")
    prices = _prices(table.get("prices"))
    judge_model = str(table.get("judge_model") or settings.model)
    return ServiceConfig(
        variants=parse_variants(table, settings),
        db_url=db_url or str(service.get("db") or DEFAULT_DB_URL),
        salt=str(table.get("experiment_salt") or DEFAULT_SALT),
        admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None,
        max_upload_bytes=int(service.get("max_upload_bytes") or settings.max_bytes),
        max_json_bytes=_positive_int(service, "max_json_bytes", DEFAULT_MAX_JSON_BYTES),
        body_idle_timeout_s=_positive_seconds(service, "body_idle_timeout_s", DEFAULT_BODY_IDLE_TIMEOUT_S),
        body_timeout_s=_positive_seconds(service, "body_timeout_s", DEFAULT_BODY_TIMEOUT_S),
        deadline_s=float(service.get("deadline_s") or settings.timeout_s),
        model_workers=int(service.get("model_workers") or 64),
        review_lease_s=float(service.get("review_lease_s") or DEFAULT_REVIEW_LEASE_S),
        session_secret=os.environ.get(SESSION_SECRET_ENV) or None,
        session_ttl_s=_positive_int(service, "session_ttl_s", DEFAULT_SESSION_TTL_S),
        allow_plain_http=_flag(service, "allow_plain_http"),
        public_origin=_origin(service.get("public_origin")),
        rollout=parse_rollout(table.get("rollout")),
        prices=prices,
        online=parse_online(table.get("online"), judge_model, prices),
        drift=parse_drift(table.get("online"), _cases_dir(start, table)),
        settings=settings,
    )
