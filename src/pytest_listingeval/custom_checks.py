"""Custom checks: gathered from the `pytest_listingeval_checks` hook and the `listingeval.checks` entry points.

Each process (the controller and every xdist worker) gathers them once, when it first loads a
case file; `custom_checks_in_use` makes that catalog the one case files are read with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pytest_listingeval.check_model import CheckFactory, CheckSpecError
from pytest_listingeval.checks import RESERVED_NAMES
from pytest_listingeval.comparing import show

if TYPE_CHECKING:  # the service loads cases too, without pytest installed
    import pytest

ENTRY_POINT_GROUP = "listingeval.checks"
HOOK_NAME = "pytest_listingeval_checks"
Registration = tuple[str, Any]  # (who registered it, what it returned)

_IN_USE: ContextVar[Mapping[str, CheckFactory] | None] = ContextVar("listingeval_custom_checks", default=None)


class CheckRegistryError(CheckSpecError):
    """The custom checks cannot be gathered: a clash, a bad name or factory, an entry point that does not load."""


def hook_registrations(pluginmanager: pytest.PytestPluginManager) -> list[Registration]:
    """What every implementation of the hook returned, with the plugin (conftest path) that returned it."""
    registrations: list[Registration] = []
    for impl in getattr(pluginmanager.hook, HOOK_NAME).get_hookimpls():
        if impl.wrapper or impl.hookwrapper:
            continue
        source = f"{HOOK_NAME} in {impl.plugin_name}"
        try:
            registrations.append((source, impl.function()))
        except Exception as exc:
            raise CheckRegistryError(f"{source} raised {type(exc).__name__}: {exc}") from exc
    return registrations


def entry_point_registrations() -> list[Registration]:
    """Each `listingeval.checks` entry point as a one-check registration named after the entry point."""
    registrations: list[Registration] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        owner = f" of {point.dist.name}" if point.dist is not None else ""
        source = f"entry point {point.name} = {point.value}{owner} ({ENTRY_POINT_GROUP})"
        try:
            factory = point.load()
        except Exception as exc:
            raise CheckRegistryError(f"{source} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        registrations.append((source, {point.name: factory}))
    return registrations


def catalog(registrations: list[Registration], reserved: Collection[str]) -> dict[str, CheckFactory]:
    """Name -> factory of every registration; a name that is reserved (built-in) or registered twice is an error."""
    factories: dict[str, CheckFactory] = {}
    sources: dict[str, str] = {}
    for source, table in registrations:
        if not isinstance(table, Mapping):
            raise CheckRegistryError(f"{source} must give a dict of check name to factory, got {show(table)}")
        for name, factory in table.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise CheckRegistryError(f"{source}: a check name must be an identifier, got {show(name)}")
            if name in reserved:
                raise CheckRegistryError(f"{source}: custom check {name!r} clashes with the built-in check {name!r}")
            if name in factories:
                twice = f"by {sources[name]} and by {source}"
                raise CheckRegistryError(f"custom check {name!r} is registered twice: {twice}")
            if not callable(factory):
                raise CheckRegistryError(f"{source}: the factory of {name!r} is not callable: {show(factory)}")
            factories[name], sources[name] = factory, source
    return factories


@contextmanager
def custom_checks_in_use(factories: Mapping[str, CheckFactory]) -> Iterator[None]:
    """Read case files with these custom checks inside the block."""
    token = _IN_USE.set(factories)
    try:
        yield
    finally:
        _IN_USE.reset(token)


def gather(pluginmanager: pytest.PytestPluginManager | None) -> dict[str, CheckFactory]:
    """The custom checks of a pytest process: its hook implementations and the entry points."""
    hooks = hook_registrations(pluginmanager) if pluginmanager is not None else []
    return catalog([*hooks, *entry_point_registrations()], RESERVED_NAMES)


@cache
def installed_checks() -> dict[str, CheckFactory]:
    """The custom checks installed packages register (all a process outside pytest can know), read once."""
    return catalog(entry_point_registrations(), RESERVED_NAMES)


def checks_in_scope() -> Mapping[str, CheckFactory]:
    """The custom checks of the pytest session loading a case now, else the installed ones."""
    active = _IN_USE.get()
    return installed_checks() if active is None else active
