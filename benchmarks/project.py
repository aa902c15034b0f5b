"""Throw-away benchmark projects: the demo cases copied under new ids, with their cassettes.

A generated project is a directory with its own `pyproject.toml` (the `[tool.listingeval]`
table of this repository, so the extractor sends byte-identical requests), `cases/` holding
N cases named `c<copy>/<demo id>`, `images/` (the demo images), and, for replay projects,
`cassettes/eval/<model>/<prompt-id>/c<copy>/<demo id>.yaml` copied from the recorded demo
cassettes. `bare/test_bare.py` calls the same task inside the same cassettes without the
plugin, parametrised over the same cases: the yardstick for the plugin's overhead.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_CASES = ROOT / "cases"
DEMO_CASSETTES = ROOT / "cassettes"

BARE_TEST = '''
"""Bare replay: the same task inside the same cassettes, no listingeval plugin."""

import json
from pathlib import Path

import pytest

from extractor.eval import task
from pytest_listingeval.cassettes import use_cassette

HERE = Path(__file__).resolve().parent
CASES = json.loads((HERE / "cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case):
    with use_cassette(Path(case["cassette"]), "none"):
        result = task.run(Path(case["image"]), case["model"], case["prompt"])
    assert result.error is None or result.error.get("type") != "crash"
'''


@dataclass(frozen=True)
class Project:
    """A generated project: where it is and what it holds."""

    root: Path
    case_ids: tuple[str, ...]
    model: str
    prompt: str
    prompt_id: str

    @property
    def cassette_dir(self) -> Path:
        """`cassettes/eval/<model>/<prompt-id>` inside the project."""
        return self.root / "cassettes" / "eval" / self.model / self.prompt_id

    def cassette_bytes(self) -> list[int]:
        """Size of every eval cassette in the project."""
        return [p.stat().st_size for p in sorted(self.cassette_dir.rglob("*.yaml"))]


def repo_table() -> dict[str, object]:
    """This repository's `[tool.listingeval]` table."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data["tool"]["listingeval"])


def demo_cases() -> list[tuple[str, Path, dict[str, object]]]:
    """(id, file, parsed yaml) of every demo case, sorted by id."""
    found = []
    for path in sorted(DEMO_CASES.rglob("*.yaml")):
        case_id = path.relative_to(DEMO_CASES).with_suffix("").as_posix()
        found.append((case_id, path, yaml.safe_load(path.read_text(encoding="utf-8"))))
    return found


def _toml_value(value: object) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def _write_pyproject(root: Path, table: dict[str, object]) -> None:
    lines = ["[tool.listingeval]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in table.items() if not isinstance(value, dict)]
    lines += [
        "",
        "[tool.pytest.ini_options]",
        'testpaths = ["cases"]',
        'markers = ["eval: evaluation cases"]',
        'addopts = "-p no:cacheprovider -p no:randomly"',
        "",
    ]
    (root / "pyproject.toml").write_text("\n".join(lines), encoding="utf-8")


def prompt_id_of(prompt: str) -> str:
    """The prompt id the extractor computes today (`<name>-<sha8>`)."""
    from extractor.prompts import load_prompt

    return load_prompt(prompt).id


def make_project(
    root: Path, n_cases: int, *, with_cassettes: bool, table_overrides: dict[str, object] | None = None
) -> Project:
    """Write a project with `n_cases` cases (the demo set repeated under `c<k>/` prefixes)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    table = {**repo_table(), **(table_overrides or {})}
    table["runs"] = "reports/runs"
    _write_pyproject(root, table)
    model, prompt = str(table["model"]), str(table["prompt"])
    prompt_id = prompt_id_of(prompt)
    source_cassettes = DEMO_CASSETTES / "eval" / model / prompt_id
    if with_cassettes and not source_cassettes.is_dir():
        raise SystemExit(
            f"no demo cassettes for prompt {prompt_id} under {source_cassettes}: "
            "run `python scripts/record_demo_cassettes.py` first"
        )
    shutil.copytree(DEMO_CASES / "images", root / "images")
    demos = demo_cases()
    ids: list[str] = []
    bare_cases: list[dict[str, str]] = []
    target_cassettes = root / "cassettes" / "eval" / model / prompt_id
    for index in range(n_cases):
        demo_id, demo_path, data = demos[index % len(demos)]
        new_id = f"c{index // len(demos):02d}/{demo_id}"
        case_file = root / "cases" / f"{new_id}.yaml"
        case_file.parent.mkdir(parents=True, exist_ok=True)
        image = (demo_path.parent / str(data["image"])).resolve()
        local_image = root / "images" / image.name
        data = {**data, "image": os.path.relpath(local_image, case_file.parent)}
        case_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        cassette = target_cassettes / f"{new_id}.yaml"
        if with_cassettes:
            cassette.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_cassettes / f"{demo_id}.yaml", cassette)
        ids.append(new_id)
        bare_cases.append(
            {"id": new_id, "image": str(local_image), "cassette": str(cassette), "model": model, "prompt": prompt}
        )
    bare = root / "bare"
    bare.mkdir()
    (bare / "cases.json").write_text(json.dumps(bare_cases), encoding="utf-8")
    (bare / "test_bare.py").write_text(BARE_TEST.lstrip(), encoding="utf-8")
    return Project(root=root, case_ids=tuple(ids), model=model, prompt=prompt, prompt_id=prompt_id)
