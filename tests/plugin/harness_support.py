"""Tmp projects for the harness tests: a tiny generic task, its cases, answers and cassettes.

`GenericProject` writes a project into a `pytester` directory whose `[tool.listingeval] task`
is `fake_task:task`, a small task that knows nothing about listings: its output model has
one enum field and a few string fields, and it answers each image from `answers.json`.
That proves the harness is generic. `ExtractorProject` points the same plugin at the real
extractor task, for recording through the fake OpenAI server and replaying the cassettes.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from rapidfuzz import fuzz

MODEL = "fake-model"
PROMPT = "base"
PROMPT_TEXT = "Name the instrument in the picture.\n"
BASE_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider", "--eval-no-run-record")

# The generic task, written into each tmp project as fake_task.py. It has no HTTP unless
# FAKE_TASK_URL is set, in which case it asks an OpenAI-compatible server (for cassettes).
FAKE_TASK = """
from __future__ import annotations

import base64
import enum
import hashlib
import json
import os
from pathlib import Path

import httpx
from pydantic import BaseModel

from pytest_listingeval.task import TaskDescription, TaskResult

HERE = Path(__file__).resolve().parent


def sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class Kind(str, enum.Enum):
    violin = "violin"
    guitar = "guitar"
    drum = "drum"
    other = "other"


class Instrument(BaseModel):
    name: str
    kind: Kind
    maker: str | None = None
    blurb: str = ""


class FakeTask:
    output_model = Instrument

    def describe(self, model: str, prompt: str) -> TaskDescription:
        path = HERE / "prompts" / f"{prompt}.txt"
        if not path.is_file():
            raise ValueError(f"unknown prompt {prompt!r}")
        text = path.read_text(encoding="utf-8")
        schema = Instrument.model_json_schema()
        return TaskDescription(
            model=model,
            prompt=prompt,
            prompt_id=f"{prompt}-{sha8(text)}",
            prompt_text=text,
            schema_id=sha8(json.dumps(schema, sort_keys=True)),
            json_schema=schema,
            params=self.params(),
        )

    def params(self) -> dict:
        path = HERE / "params.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def readiness_problem(self, recording: bool) -> str | None:
        return None

    def run(self, image: Path, model: str, prompt: str) -> TaskResult:
        answers = json.loads((HERE / "answers.json").read_text(encoding="utf-8"))
        answer = answers[image.stem]
        if "__raise__" in answer:
            raise RuntimeError(answer["__raise__"])
        if "__exit__" in answer:
            os._exit(int(answer["__exit__"]))
        if "__error__" in answer:
            return TaskResult(output=None, error=answer["__error__"], latency_ms=7)
        url = os.environ.get("FAKE_TASK_URL")
        if url:
            answer = self.ask(url, image, model, prompt)
        if answer.pop("__model__", False):
            answer = Instrument.model_validate(answer).model_dump()  # enum members, not values
        return TaskResult(output=answer, latency_ms=10, usage={"input_tokens": 100, "output_tokens": 20})

    def ask(self, url: str, image: Path, model: str, prompt: str) -> dict:
        text = (HERE / "prompts" / f"{prompt}.txt").read_text(encoding="utf-8")
        data = base64.b64encode(image.read_bytes()).decode()
        body = {
            "model": model,
            "params": self.params(),
            "input": [{"role": "user", "content": [
                {"type": "input_text", "text": text},
                {"type": "input_image", "image_url": f"data:image/png;base64,{data}"},
            ]}],
        }
        reply = httpx.post(f"{url}/responses", json=body, headers={"authorization": "Bearer k"}, timeout=10)
        reply.raise_for_status()
        for item in reply.json()["output"]:
            for part in item.get("content", []):
                if part.get("type") == "output_text":
                    return json.loads(part["text"])
        raise RuntimeError("no output text")


task = FakeTask()
"""

# A cassette for a task that makes no HTTP request: no interactions, and the marker that says
# so on purpose (an unmarked empty cassette is a recording that went wrong, so it is "missing").
NO_REQUESTS_MARKER = "listingeval_no_requests"
_EMPTY_CASSETTE = f"interactions: []\nmetadata:\n  {NO_REQUESTS_MARKER}: true\nversion: 1\n"
LEGACY_EMPTY_CASSETTE = "interactions: []\nversion: 1\n"


def png_bytes(seed: int, size: int = 16) -> bytes:
    """A small distinct PNG: the colour depends on `seed`."""
    colour = ((seed * 67) % 256, (seed * 131 + 40) % 256, (seed * 29 + 90) % 256)
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def read_cassette(path: Path) -> dict[str, Any]:
    """A cassette file as YAML data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a cassette: {data!r}"
    return data


def fullwidth(text: str) -> str:
    """ASCII letters as their full-width forms ('Violin' -> U+FF36 ...), which NFKC folds back."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def sha8(text: str) -> str:
    """First 8 hex digits of sha256, as the generic task derives its prompt id."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def image_stem(case_id: str) -> str:
    """The image file name stem of a case (the generic task keys answers by it)."""
    return case_id.replace("/", "__")


@dataclass
class Run:
    """One inner pytest run: its result and the results JSON (None when not written)."""

    result: pytest.RunResult
    data: dict[str, Any] | None

    @property
    def ret(self) -> int:
        """The exit status."""
        return int(self.result.ret)

    @property
    def text(self) -> str:
        """stdout and stderr together."""
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    @property
    def json(self) -> dict[str, Any]:
        """The results JSON; fails the test when the run wrote none."""
        assert self.data is not None, f"no results JSON written:\n{self.text}"
        return self.data

    def case(self, case_id: str) -> dict[str, Any]:
        """One case entry of the results JSON."""
        found: list[dict[str, Any]] = [c for c in self.json["cases"] if c["id"] == case_id]
        assert found, f"case {case_id} not in {[c['id'] for c in self.json['cases']]}"
        return found[0]

    def scores(self, case_id: str) -> dict[str, int]:
        """Field -> score of one case."""
        return {name: f["score"] for name, f in self.case(case_id)["fields"].items()}


class Project:
    """A pytester project using pytest-listingeval; subclasses choose the task."""

    task_spec = ""

    def __init__(self, pytester: pytest.Pytester, extra_settings: str = "", markers: bool = True) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.extra_settings = extra_settings
        self.markers = markers
        self.write_pyproject()

    def write_pyproject(self, **overrides: Any) -> None:
        """pyproject.toml with `[tool.listingeval]`; pytest's pythonpath holds the project."""
        table = {"task": self.task_spec, "model": MODEL, "prompt": PROMPT, **overrides}
        lines = ["[tool.listingeval]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        lines.append(self.extra_settings)
        lines += ["", "[tool.pytest.ini_options]", 'pythonpath = ["."]']
        if self.markers:
            lines.append('markers = ["eval: eval cases"]')
        (self.path / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_case(
        self,
        case_id: str,
        expected: dict[str, Any],
        *,
        seed: int = 0,
        suffix: str = ".yaml",
        image: bytes | None = None,
        **extra: Any,
    ) -> Path:
        """cases/<id>.yaml and its image under cases/images/; returns the case file."""
        images = self.path / "cases" / "images"
        images.mkdir(parents=True, exist_ok=True)
        image_path = images / f"{image_stem(case_id)}.png"
        image_path.write_bytes(image if image is not None else png_bytes(seed))
        case_path = self.path / "cases" / f"{case_id}{suffix}"
        case_path.parent.mkdir(parents=True, exist_ok=True)
        relative = Path(*[".."] * case_id.count("/"), "images", image_path.name).as_posix()
        document = {"image": relative, "expected": expected, **extra}
        case_path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return case_path

    def run(self, *args: str, subprocess: bool = False, json_name: str = "out.json") -> Run:
        """Run pytest in the project with the results JSON written to `json_name`."""
        target = self.path / json_name
        target.unlink(missing_ok=True)
        full = (*BASE_ARGS, "--eval-json", json_name, *args)
        if subprocess:
            result = self.pytester.runpytest_subprocess(*full, timeout=120)
        else:
            result = self.pytester.runpytest(*full)
        data = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else None
        return Run(result, data)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """Run git in the project (or `cwd`), failing loudly."""
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main", *args],
            cwd=cwd or self.path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout.strip()


class GenericProject(Project):
    """A project whose task is the generic `fake_task:task` answering from answers.json."""

    task_spec = "fake_task:task"

    def __init__(self, pytester: pytest.Pytester, extra_settings: str = "", markers: bool = True) -> None:
        super().__init__(pytester, extra_settings, markers)
        (self.path / "fake_task.py").write_text(FAKE_TASK, encoding="utf-8")
        self.answers: dict[str, Any] = {}
        self.set_prompt(PROMPT_TEXT)
        self._write_answers()

    @property
    def prompt_id(self) -> str:
        """The prompt id the generic task derives from the current prompt text."""
        text = (self.path / "prompts" / f"{PROMPT}.txt").read_text(encoding="utf-8")
        return f"{PROMPT}-{sha8(text)}"

    def set_prompt(self, text: str) -> None:
        """Write (or edit) the prompt text; its id changes with it."""
        folder = self.path / "prompts"
        folder.mkdir(exist_ok=True)
        (folder / f"{PROMPT}.txt").write_text(text, encoding="utf-8")

    def cassette(self, case_id: str, prompt_id: str | None = None) -> Path:
        """Where the harness looks for this case's cassette."""
        return self.path / "cassettes" / "eval" / MODEL / (prompt_id or self.prompt_id) / f"{case_id}.yaml"

    def add(
        self, case_id: str, expected: dict[str, Any], answer: dict[str, Any], *, cassette: bool = True, **extra: Any
    ) -> Path:
        """A case, its answer and (the task making no HTTP call) an empty cassette."""
        path = self.write_case(case_id, expected, seed=len(self.answers) + 1, **extra)
        self.answer(case_id, answer)
        if cassette:
            self.write_empty_cassette(case_id)
        return path

    def answer(self, case_id: str, answer: dict[str, Any]) -> None:
        """Set what the task answers for this case."""
        self.answers[image_stem(case_id)] = answer
        self._write_answers()

    def write_empty_cassette(self, case_id: str, *, legacy: bool = False) -> None:
        """A marked cassette with no interactions (what a task without HTTP replays); `legacy`: unmarked."""
        path = self.cassette(case_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LEGACY_EMPTY_CASSETTE if legacy else _EMPTY_CASSETTE, encoding="utf-8")

    def _write_answers(self) -> None:
        (self.path / "answers.json").write_text(json.dumps(self.answers, ensure_ascii=False), encoding="utf-8")


def instrument(name: str = "Violin", kind: str = "violin", maker: str | None = None, blurb: str = "") -> dict[str, Any]:
    """An answer of the generic task."""
    return {"name": name, "kind": kind, "maker": maker, "blurb": blurb}


def strip_timing(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without what depends on the clock."""
    return {k: v for k, v in summary.items() if k not in ("duration_s", "latency_ms")}


REFERENCE = "a wooden violin with a bow"
NEAR = "a wooden viola with a bow"
# The similarity rapidfuzz gives (normalised strings are already lower-case, single-spaced).
NEAR_SIMILARITY = round(fuzz.ratio(NEAR, REFERENCE) / 100.0, 4)

# The check matrix of docs/contracts.md, section 3: (case id, expected, answer, scores each field must get)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, int]]] = [
    # plain equality: NFKC (full-width letters), casefold, trim, inner whitespace
    ("eq/fullwidth", {"name": "violin", "kind": "violin"}, instrument(fullwidth("Violin")), {"name": 1, "kind": 1}),
    ("eq/spaces", {"name": "  Electric   guitar "}, instrument(" ELECTRIC \n\t guitar  ", "guitar"), {"name": 1}),
    ("eq/expected-fullwidth", {"name": fullwidth("Drum")}, instrument("drum", "drum"), {"name": 1}),
    ("eq/miss", {"name": "violin", "kind": "guitar"}, instrument("viola", "violin"), {"name": 0, "kind": 0}),
    # enums compare by value, also when the task hands back enum members
    ("eq/enum-member", {"kind": "drum"}, {**instrument("Drum", "drum"), "__model__": True}, {"kind": 1}),
    # null: None and "" pass, "x" fails
    ("null/none", {"maker": None}, instrument(maker=None), {"maker": 1}),
    ("null/empty", {"maker": None, "blurb": None}, instrument(maker="", blurb="  "), {"maker": 1, "blurb": 1}),
    ("null/x", {"maker": None}, instrument(maker="x"), {"maker": 0}),
    # any_of, with null inside
    ("any/hit", {"kind": {"any_of": ["violin", "guitar"]}}, instrument(kind="guitar"), {"kind": 1}),
    ("any/null-none", {"maker": {"any_of": [None, "Stentor"]}}, instrument(maker=None), {"maker": 1}),
    ("any/null-value", {"maker": {"any_of": [None, "Stentor"]}}, instrument(maker=" STENTOR"), {"maker": 1}),
    ("any/miss", {"maker": {"any_of": ["Yamaha", "Stentor"]}}, instrument(maker=None), {"maker": 0}),
    # contains_all / contains_any (needles normalised too)
    (
        "contains/all-hit",
        {"blurb": {"contains_all": ["violin", fullwidth("bow")]}},
        instrument(blurb="A VIOLIN  and its Bow."),
        {"blurb": 1},
    ),
    ("contains/all-miss", {"blurb": {"contains_all": ["violin", "bow"]}}, instrument(blurb="A violin."), {"blurb": 0}),
    (
        "contains/any-hit",
        {"blurb": {"contains_any": ["fiddle", "violin"]}},
        instrument(blurb="Old FIDDLE"),
        {"blurb": 1},
    ),
    ("contains/any-miss", {"blurb": {"contains_any": ["fiddle", "violin"]}}, instrument(blurb="a drum"), {"blurb": 0}),
    # regex: IGNORECASE, on the raw value (no NFKC, no whitespace collapsing)
    ("regex/ignorecase", {"name": {"regex": "^viol(in|a)$"}}, instrument("VIOLIN"), {"name": 1}),
    ("regex/raw-fullwidth", {"name": {"regex": "^violin$"}}, instrument(fullwidth("Violin")), {"name": 0}),
    ("regex/raw-spaces", {"blurb": {"regex": "a {2}b"}}, instrument(blurb="a  b"), {"blurb": 1}),
    # similar_to: the boundary is inclusive
    (
        "similar/at-min",
        {"blurb": {"similar_to": REFERENCE, "min": NEAR_SIMILARITY}},
        instrument(blurb=NEAR),
        {"blurb": 1},
    ),
    (
        "similar/above-min",
        {"blurb": {"similar_to": REFERENCE, "min": round(NEAR_SIMILARITY + 0.0001, 4)}},
        instrument(blurb=NEAR),
        {"blurb": 0},
    ),
    (
        "similar/default-min",
        {"blurb": {"similar_to": REFERENCE}},
        instrument(blurb="A Wooden  VIOLIN with a bow"),
        {"blurb": 1},
    ),
    # max_len
    ("maxlen/at", {"blurb": {"max_len": 10}}, instrument(blurb="0123456789"), {"blurb": 1}),
    ("maxlen/over", {"blurb": {"max_len": 10}}, instrument(blurb="0123456789X"), {"blurb": 0}),
    # a list: every check must pass
    ("list/pass", {"blurb": [{"contains_any": ["violin"]}, {"max_len": 20}]}, instrument(blurb="violin"), {"blurb": 1}),
    (
        "list/one-fails",
        {"blurb": [{"contains_any": ["violin"]}, {"max_len": 20}]},
        instrument(blurb="violin " * 5),
        {"blurb": 0},
    ),
    # an extraction that failed: 0 on every expected field, with its error
    (
        "zz/failed",
        {"name": "violin", "kind": "violin", "maker": None},
        {"__error__": {"type": "refusal", "message": "no"}},
        {"name": 0, "kind": 0, "maker": 0},
    ),
]
