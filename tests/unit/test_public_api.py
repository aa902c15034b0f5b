"""The harness's public API: every name in __all__ resolves, unknown names do not, imports stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_the_public_api_lists_every_name_it_exports() -> None:
    import pytest_listingeval

    for name in pytest_listingeval.__all__:
        assert getattr(pytest_listingeval, name) is not None, name
    assert pytest_listingeval.__version__
    with pytest.raises(AttributeError):
        _ = pytest_listingeval.not_a_public_name


def test_importing_the_package_imports_none_of_its_parts() -> None:
    # The stdlib-only fake server and the service import parts of the package; the package
    # itself must not drag in yaml, vcrpy, pydantic or pytest.
    heavy = "('yaml', 'vcr', 'pydantic', 'pytest')"
    code = f"import sys, pytest_listingeval; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
