"""`[tool.listingeval.online]`: the checks every served output gets, the sampled judge and its budget.

The checks are written in the case files' check language (docs/contracts.md section 3), read
by the harness's own parser against the `Listing` model; TOML has no null, so a table
`{is_null = true}` stands for YAML's `null` wherever it appears. Every mistake stops `serve`
at start-up with one line naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from extractor.errors import ConfigError
from extractor.schema import Listing
from extractor.service.quality.settings import DRIFT_KEYS
from pytest_listingeval import rubric_version
from pytest_listingeval.check_model import Check, CheckSpecError
from pytest_listingeval.custom_checks import CheckRegistryError, installed_checks
from pytest_listingeval.field_specs import SpecReader
from pytest_listingeval.paths import PathError, path_type

_TABLE = "[tool.listingeval.online]"
_KNOWN = (
    "checks",
    "judge",
    "judge_sample",
    "judge_model",
    "judge_max_concurrency",
    "judge_daily_budget_usd",
    "judge_daily_calls",
    "interval_s",
    "claim_lease_s",
    *DRIFT_KEYS,
)
DEFAULT_JUDGE_SAMPLE = 0.05
DEFAULT_JUDGE_CONCURRENCY = 2
# A replica scores rows it finished at once; this is how often it looks for rows others finished.
DEFAULT_INTERVAL_S = 5.0
# Longer than a judge call with all its retries, so a live replica's rows are never taken over.
DEFAULT_CLAIM_LEASE_S = 600.0
# The database columns: `online_results.check` and `.field`.
MAX_CHECK_NAME = 200
MAX_FIELD = 100


@dataclass(frozen=True)
class OnlineCheck:
    """One check on one field of every served output, stored under `name` (`<field>:<check>`)."""

    name: str
    field: str
    check: Check


@dataclass(frozen=True)
class JudgeRubric:
    """The rubric the judge grades one field with; `version` is a short sha256 of its text."""

    field: str
    rubric: str

    @property
    def name(self) -> str:
        """The check name its verdicts are stored under."""
        return f"{self.field}:judge"

    @property
    def version(self) -> str:
        """Changes whenever the rubric's text does."""
        return rubric_version(self.rubric)


@dataclass(frozen=True)
class JudgePrice:
    """USD per million input and output tokens of the judge model."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost of a call with this usage."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1_000_000


@dataclass(frozen=True)
class OnlineSettings:
    """What the online worker scores, how much it may judge, and its timing."""

    checks: tuple[OnlineCheck, ...] = ()
    judges: tuple[JudgeRubric, ...] = ()
    judge_sample: float = 0.0
    judge_model: str = ""
    judge_max_concurrency: int = DEFAULT_JUDGE_CONCURRENCY
    judge_daily_budget_usd: float | None = None
    judge_daily_calls: int | None = None
    judge_price: JudgePrice | None = None
    interval_s: float = DEFAULT_INTERVAL_S
    claim_lease_s: float = DEFAULT_CLAIM_LEASE_S

    @property
    def enabled(self) -> bool:
        """Whether there is anything to score (no worker runs otherwise)."""
        return bool(self.checks or self.judges)


def parse_online(
    table: Any, default_judge_model: str, prices: dict[str, dict[str, float]] | None = None
) -> OnlineSettings:
    """The online settings from the `online` table of `[tool.listingeval]` (absent: nothing is scored)."""
    if table is None:
        return OnlineSettings()
    if not isinstance(table, dict):
        raise ConfigError(f"{_TABLE} must be a table")
    unknown = sorted(set(table) - set(_KNOWN))
    if unknown:
        raise ConfigError(f"{_TABLE}: unknown keys {unknown} (known: {', '.join(_KNOWN)})")
    checks = _checks(table.get("checks", {}))
    judges = _judges(table.get("judge"))
    if not judges:
        stray = sorted(key for key in table if key.startswith("judge_"))
        if stray:
            raise ConfigError(f"{_TABLE} {stray[0]} is set but no judge is configured (judge = {{FIELD = RUBRIC}})")
    model = _text(table, "judge_model") or default_judge_model
    budget_usd = _optional_number(table, "judge_daily_budget_usd")
    calls = _optional_whole(table, "judge_daily_calls", 0)
    price = _price(prices or {}, model)
    if judges and budget_usd is None and calls is None:
        raise ConfigError(f"{_TABLE} a judge needs a daily budget: set judge_daily_budget_usd or judge_daily_calls")
    if budget_usd is not None and price is None:
        raise ConfigError(
            f'{_TABLE} judge_daily_budget_usd needs the judge model\'s price: [tool.listingeval.prices."{model}"]'
            " input_per_mtok and output_per_mtok"
        )
    return OnlineSettings(
        checks=checks,
        judges=judges,
        judge_sample=_number(table, "judge_sample", DEFAULT_JUDGE_SAMPLE if judges else 0.0, 0.0, 1.0),
        judge_model=model,
        judge_max_concurrency=_optional_whole(table, "judge_max_concurrency", 1) or DEFAULT_JUDGE_CONCURRENCY,
        judge_daily_budget_usd=budget_usd,
        judge_daily_calls=calls,
        judge_price=price,
        interval_s=_number(table, "interval_s", DEFAULT_INTERVAL_S, 0.01),
        claim_lease_s=_number(table, "claim_lease_s", DEFAULT_CLAIM_LEASE_S, 0.01),
    )


def _checks(value: Any) -> tuple[OnlineCheck, ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{_TABLE} checks must be a table of field = check, like {{title = {{max_len = 80}}}}")
    if not value:
        return ()
    try:
        reader = SpecReader(Listing, installed_checks())
    except CheckRegistryError as exc:
        raise ConfigError(f"{_TABLE} checks: the installed custom checks cannot be read: {exc}") from None
    parsed: list[OnlineCheck] = []
    for path, spec in value.items():
        where = f"{_TABLE} checks.{path}"
        if len(path) > MAX_FIELD:
            raise ConfigError(f"{where}: a field path is at most {MAX_FIELD} characters")
        try:
            checks = reader.checks(path, _nulls(spec, where))
        except (CheckSpecError, PathError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        for check in checks:
            if check.name == "judge":
                hint = f"judge = {{{path} = RUBRIC}}"
                raise ConfigError(f"{where}: the judge runs on a sample under a budget: write {hint}")
            parsed.append(OnlineCheck(_unique(f"{path}:{check.name}", parsed, where), path, check))
    return tuple(parsed)


def _nulls(spec: Any, where: str) -> Any:
    """The spec with every `{is_null = true}` table turned into the null TOML cannot write."""
    if isinstance(spec, dict):
        if "is_null" in spec:
            if spec != {"is_null": True}:
                raise ConfigError(f"{where}: write {{is_null = true}} alone for null, not {spec!r}")
            return None
        return {key: _nulls(item, where) for key, item in spec.items()}
    if isinstance(spec, list):
        return [_nulls(item, where) for item in spec]
    return spec


def _unique(name: str, taken: list[OnlineCheck], where: str) -> str:
    names = {check.name for check in taken}
    candidate, n = name, 1
    while candidate in names:
        n += 1
        candidate = f"{name}#{n}"
    if len(candidate) > MAX_CHECK_NAME:
        raise ConfigError(f"{where}: the check's name {candidate!r} is over {MAX_CHECK_NAME} characters")
    return candidate


# What `judge = "rubric"` grades: the listing's one free-text field.
PLAIN_JUDGE_FIELD = "description"


def _judges(value: Any) -> tuple[JudgeRubric, ...]:
    if value is None:
        return ()
    example = 'judge = {description = "RUBRIC"}'
    if isinstance(value, str):
        # The plain form grades the listing's free text; the table form names other fields.
        value = {PLAIN_JUDGE_FIELD: value}
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{_TABLE} judge must be a table of field = rubric, like {example}")
    judges = []
    for path, rubric in value.items():
        where = f"{_TABLE} judge.{path}"
        try:
            path_type(Listing, path)
        except PathError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if len(path) > MAX_FIELD - len(":judge"):
            raise ConfigError(f"{where}: a judged field path is at most {MAX_FIELD - len(':judge')} characters")
        if not isinstance(rubric, str) or not rubric.strip():
            raise ConfigError(f"{where} must be the rubric's text")
        judges.append(JudgeRubric(path, rubric.strip()))
    return tuple(judges)


def _text(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{_TABLE} {key} must be a model name")
    return value.strip()


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float = math.inf) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value) or not low <= value <= high:
        bound = f"between {low:g} and {high:g}" if high != math.inf else f">= {low:g}"
        raise ConfigError(f"{_TABLE} {key} must be a number {bound}, not {value!r}")
    return float(value)


def _optional_number(table: dict[str, Any], key: str) -> float | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < math.inf:
        raise ConfigError(f"{_TABLE} {key} must be a number of USD >= 0, not {value!r}")
    return float(value)


def _optional_whole(table: dict[str, Any], key: str, low: int) -> int | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{_TABLE} {key} must be a whole number >= {low}, not {value!r}")
    return value


def _price(prices: dict[str, dict[str, float]], model: str) -> JudgePrice | None:
    entry = prices.get(model)
    if not entry or "input_per_mtok" not in entry or "output_per_mtok" not in entry:
        return None
    return JudgePrice(entry["input_per_mtok"], entry["output_per_mtok"])
