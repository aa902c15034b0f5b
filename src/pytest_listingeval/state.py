"""Where the session state lives: `config.stash`."""

from __future__ import annotations

import pytest

from pytest_listingeval.session import EvalSession

SESSION_KEY = pytest.StashKey[EvalSession]()


def session_of(config: pytest.Config) -> EvalSession:
    """The EvalSession of this process."""
    return config.stash[SESSION_KEY]
