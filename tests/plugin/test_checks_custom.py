"""Custom checks as units: the catalog, the factory contract, entry points, and offline re-scoring."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pytest_listingeval.check_model import CheckSpecError
from pytest_listingeval.checks import RESERVED_NAMES, custom_check
from pytest_listingeval.custom_checks import CheckRegistryError, Registration, catalog, entry_point_registrations
from pytest_listingeval.field_specs import SpecReader
from pytest_listingeval.scoring import NotRescorable, rescore_field


def divisible_by(divisor: Any) -> Any:
    """A factory: rejects a zero divisor; the check gives a reason both ways."""
    if not isinstance(divisor, int) or divisor == 0:
        raise ValueError("needs a non-zero integer")
    return lambda actual: (actual % divisor == 0, f"{actual} % {divisor} == {actual % divisor}")


def _untyped(factory: Callable[[Any], object]) -> Any:
    """A factory that breaks the contract, as a user's untyped conftest could register it."""
    return factory


def test_the_catalog_refuses_clashes_bad_names_and_bad_factories() -> None:
    """Built-in names, a name registered twice, a non-identifier, a non-callable, a non-dict: clear errors."""
    ok = catalog([("conftest.py", {"divisible_by": divisible_by})], RESERVED_NAMES)
    assert ok == {"divisible_by": divisible_by}
    cases: list[tuple[list[Registration], str]] = [
        ([("conftest.py", {"equals": divisible_by})], "custom check 'equals' clashes with the built-in check"),
        ([("conftest.py", {"null": divisible_by})], "clashes with the built-in check 'null'"),
        (
            [("a/conftest.py", {"d": divisible_by}), ("entry point d", {"d": divisible_by})],
            "custom check 'd' is registered twice: by a/conftest.py and by entry point d",
        ),
        ([("conftest.py", {"not a name": divisible_by})], "a check name must be an identifier"),
        ([("conftest.py", {"d": 3})], "the factory of 'd' is not callable"),
        ([("conftest.py", ["d"])], "must give a dict of check name to factory"),
    ]
    for registrations, message in cases:
        with pytest.raises(CheckRegistryError, match=message):
            catalog(registrations, RESERVED_NAMES)


def test_the_factory_is_called_once_and_may_reject_its_argument() -> None:
    """Called once when read; ValueError and any other exception become CheckSpecError naming the check."""
    calls: list[Any] = []

    def counting(argument: Any) -> Any:
        calls.append(argument)
        return lambda actual: actual == argument

    check = custom_check("same", counting, 5)
    assert [check.apply(v).passed for v in (5, 6, 5)] == [True, False, True]
    assert calls == [5]
    with pytest.raises(CheckSpecError, match="check 'divisible_by' rejects 0: needs a non-zero integer"):
        custom_check("divisible_by", divisible_by, 0)
    with pytest.raises(CheckSpecError, match=r"check 'broken' failed on 1: ZeroDivisionError"):
        custom_check("broken", _untyped(lambda argument: 1 / 0), 1)
    with pytest.raises(CheckSpecError, match="not a function of the value"):
        custom_check("lazy", _untyped(lambda argument: None), 1)


def test_applying_a_custom_check_never_raises() -> None:
    """bool or (bool, reason); an exception or another return value fails the check saying so."""
    assert custom_check("d", divisible_by, 3).apply(9).detail == "9 % 3 == 0"
    plain = custom_check("positive", lambda _: lambda actual: actual > 0, None)
    assert plain.apply(2).detail == "positive passed on 2"
    assert plain.apply(-2).detail == "positive failed on -2"
    raising = custom_check("positive", lambda _: lambda actual: actual > 0, None).apply("x")
    assert not raising.passed
    assert raising.detail == "positive raised TypeError: '>' not supported between instances of 'str' and 'int'"
    junk = custom_check("odd", _untyped(lambda _: lambda actual: "yes"), None).apply(1)
    assert not junk.passed and "returned 'yes'; a check returns a bool or (bool, reason)" in junk.detail


@pytest.fixture(autouse=True)
def _forget_fake_module() -> Iterator[None]:
    """Each test imports its own `fakechecks` from its own folder."""
    yield
    sys.modules.pop("fakechecks", None)


def _fake_distribution(folder: Path, entry_points: str, module: str) -> None:
    """An installed-looking distribution: a dist-info with entry_points.txt, and its module."""
    info = folder / "fakechecks-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakechecks\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")
    (folder / "fakechecks.py").write_text(textwrap.dedent(module), encoding="utf-8")


MODULE = """
    def even(argument):
        return lambda actual: (actual % 2 == 0) is bool(argument)
"""


def test_entry_points_register_one_check_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`listingeval.checks` entry points load into factories named after the entry point."""
    _fake_distribution(tmp_path, "[listingeval.checks]\neven = fakechecks:even\n", MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    (registration,) = [r for r in entry_point_registrations() if "fakechecks" in r[0]]
    source, _ = registration
    assert source == "entry point even = fakechecks:even of fakechecks (listingeval.checks)"
    factories = catalog([registration], RESERVED_NAMES)
    assert custom_check("even", factories["even"], True).apply(4).passed


def test_an_entry_point_that_does_not_load_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken entry point is a clear error naming it, not a traceback."""
    _fake_distribution(tmp_path, "[listingeval.checks]\neven = fakechecks:missing\n", MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CheckRegistryError, match=r"entry point even = fakechecks:missing .* cannot be loaded"):
        entry_point_registrations()


class Counted(BaseModel):
    count: int
    note: str = ""


def test_rescoring_knows_the_readers_custom_checks_or_says_it_cannot() -> None:
    """With the run's custom checks a field re-scores; without them it is NotRescorable, naming the check."""
    spec = {"divisible_by": 3}
    reader = SpecReader(Counted, {"divisible_by": divisible_by})
    assert rescore_field("count", spec, [{"count": 9}, {"count": 4}], spec, None, reader) == 0.5
    with pytest.raises(NotRescorable, match="field 'count' cannot be re-scored here: unknown check 'divisible_by'"):
        rescore_field("count", spec, [{"count": 9}], spec, 1.0)


def test_rescoring_reads_factories_once_per_distinct_spec() -> None:
    """The gate re-scores many cases: each distinct (path, spec) calls the factory once."""
    calls: list[Any] = []

    def counting(argument: Any) -> Any:
        calls.append(argument)
        return lambda actual: actual == argument

    reader = SpecReader(Counted, {"same": counting})
    for value in (1, 2, 1):
        rescore_field("count", {"same": 1}, [{"count": value}], None, None, reader)
    assert calls == [1]


def test_rescoring_uses_the_type_at_the_path() -> None:
    """A quoted "3" on an int field re-scores as a number, as it scored live; nested paths resolve."""
    typed = SpecReader(Counted, {})
    assert rescore_field("count", "3", [{"count": 3.0}], "3", None, typed) == 1.0
    untyped = SpecReader(None, {})
    assert rescore_field("a.b[1]", 2, [{"a": {"b": [1, 2.0]}}], 2, None, untyped) == 1.0
    assert rescore_field("a.b[5]", None, [{"a": {"b": [1]}}], None, None, untyped) == 1.0
