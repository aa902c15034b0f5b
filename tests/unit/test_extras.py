"""Optional extras: each command names the extra it lacks, and the service runs without pytest."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest
from scripts.declared import canonical, names

from extractor import extras
from extractor.cli import main
from tests.fakes.uninstalled import PYTEST_DISTRIBUTIONS, modules_of, run_without

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("extra", sorted(extras.EXTRAS))
def test_the_extras_table_lists_what_pyproject_declares(extra: str) -> None:
    assert list(extras.EXTRAS[extra]) == names(extra)


def test_every_distribution_of_the_extras_is_found_when_installed() -> None:
    # Spelling and case differ from the metadata (prometheus-client vs prometheus_client).
    for extra in extras.EXTRAS:
        assert extras.missing_distributions(extra) == []
        assert extras.missing_extra_message("x", extra) is None


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["extract", "photo.png"], "openai"),
        (["serve"], "service"),
        (["serve", "--port", "0", "--db", "sqlite:///x.db"], "service"),
        (["db", "upgrade"], "service"),
        (["db", "purge", "--older-than", "30d"], "service"),
        (["cases", "promote", "abcd1234"], "service"),
    ],
)
def test_a_command_without_its_extra_says_which_to_install_in_one_line(
    argv: list[str], extra: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-used")

    def no_pillow(name: str) -> None:
        if canonical(name) == "pillow":
            raise PackageNotFoundError(name)

    monkeypatch.setattr(extras, "distribution", no_pillow)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == (
        f"listingeval: {argv[0]} needs the {extra} extra: pip install 'listingeval[{extra}]' (not installed: pillow)\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing ran: no database file, no output


def test_the_eval_task_without_the_openai_extra_names_it() -> None:
    hidden = extras.EXTRAS["openai"]
    done = run_without("import extractor.eval", modules_of(hidden), hidden)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: the extractor's eval task needs the openai extra: pip install 'listingeval[openai]' "
        "(not installed: openai, httpx2, tenacity, pillow)"
    )


# Imports every module of the extractor (the service too), migrates a SQLite file, starts the
# app and asks /healthz; prints the answer and whether any pytest module was imported.
_SERVICE_WITHOUT_PYTEST = """
import json, pkgutil, sys, importlib
import extractor
from extractor.cli import main

for info in pkgutil.walk_packages(extractor.__path__, "extractor."):
    # the migrations' env runs only inside alembic, the pytest plugin only inside pytest
    if info.name not in ("extractor.service.storage.migrations.env", "extractor.pytest_plugin"):
        importlib.import_module(info.name)
try:
    main(["serve", "--help"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
from fastapi.testclient import TestClient
from extractor.service.app import create_app
from extractor.service.config import load_config
from extractor.service.storage.db import make_engine, upgrade

config = load_config("sqlite:///service.db")
upgrade(make_engine(config.db_url))
with TestClient(create_app(config)) as client:
    answer = client.get("/healthz")
pytest_roots = {"pytest", "_pytest", "vcr"}
loaded = sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] in pytest_roots)
print(json.dumps({"status": answer.status_code, "body": answer.json(), "pytest_modules": loaded}))
"""


def test_the_service_imports_starts_and_answers_without_pytest(tmp_path: Path) -> None:
    done = run_without(
        _SERVICE_WITHOUT_PYTEST,
        modules_of(PYTEST_DISTRIBUTIONS),
        PYTEST_DISTRIBUTIONS,
        cwd=tmp_path,
        env={"OPENAI_API_KEY": "sk-not-used", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "body": {"status": "ok"}, "pytest_modules": []}
