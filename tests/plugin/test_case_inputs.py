"""Cases with `inputs:` (values and files) as well as or instead of `image:`, via pytester."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugin.harness_support import MODEL, Project, Run, png_bytes

# A text task: no image at all. It echoes what it was given so the test can see it, and its
# judge reports the case input it received.
TEXT_TASK = """
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from pytest_listingeval.task import CaseInput, TaskDescription, TaskResult

HERE = Path(__file__).resolve().parent


class Summary(BaseModel):
    subject: str
    words: int
    note: str = ""


class TextTask:
    output_model = Summary

    def describe(self, model: str, prompt: str) -> TaskDescription:
        text = "Summarise {{ text }}"
        return TaskDescription(model=model, prompt=prompt, prompt_id=prompt + "-1", prompt_text=text,
                               schema_id="s1", json_schema=Summary.model_json_schema())

    def readiness_problem(self, recording: bool) -> str | None:
        return None

    def case_problem(self, case: CaseInput) -> str | None:
        return None if "text" in case.inputs or "doc" in case.inputs else "needs a text or doc input"

    def run(self, case: CaseInput, model: str, prompt: str) -> TaskResult:
        seen = {"id": case.id, "image": case.image.name if case.image else None, "vars": case.variables()}
        with (HERE / "seen.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps(seen) + "\\n")
        text = case.file("doc").read_text(encoding="utf-8") if "doc" in case.inputs else case.inputs["text"]
        return TaskResult(output={"subject": text.split()[0], "words": len(text.split()), "note": ""})

    def judge(self, case: CaseInput, rubric: str, field: str, value, model: str):
        return True, f"judged {case.id} with inputs {sorted(case.inputs)}"


task = TextTask()
"""

MARKED_EMPTY_CASSETTE = "interactions: []\nmetadata:\n  listingeval_no_requests: true\nversion: 1\n"


class TextProject(Project):
    """A project whose task reads text inputs and files, never an image."""

    task_spec = "text_task:task"

    def __init__(self, pytester: pytest.Pytester) -> None:
        super().__init__(pytester)
        (self.path / "text_task.py").write_text(TEXT_TASK, encoding="utf-8")

    def case(self, case_id: str, document: dict[str, Any]) -> Path:
        """cases/<id>.yaml holding `document`, with the empty cassette a task without HTTP replays."""
        path = self.path / "cases" / f"{case_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        cassette = self.path / "cassettes" / "eval" / MODEL / "base-1" / f"{case_id}.yaml"
        cassette.parent.mkdir(parents=True, exist_ok=True)
        cassette.write_text(MARKED_EMPTY_CASSETTE, encoding="utf-8")
        return path

    def seen(self) -> list[dict[str, Any]]:
        """What the task was given, one entry per run of a case."""
        log = self.path / "seen.jsonl"
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.is_file() else []


def _errors(run: Run) -> str:
    return run.text


def test_a_case_with_inputs_only_reaches_the_task_and_is_scored(pytester: pytest.Pytester) -> None:
    project = TextProject(pytester)
    project.case("short", {"inputs": {"text": "violin for sale", "lang": "en"}, "expected": {"subject": "violin"}})
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.scores("short") == {"subject": 1}
    assert project.seen() == [{"id": "short", "image": None, "vars": {"text": "violin for sale", "lang": "en"}}]


def test_a_file_input_is_a_path_beside_the_case(pytester: pytest.Pytester) -> None:
    project = TextProject(pytester)
    (project.path / "cases" / "docs").mkdir(parents=True)
    (project.path / "cases" / "docs" / "ad.txt").write_text("drum kit, five pieces", encoding="utf-8")
    project.case("from_file", {"inputs": {"doc": {"file": "docs/ad.txt"}}, "expected": {"subject": "drum"}})
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.scores("from_file") == {"subject": 1}
    (seen,) = project.seen()
    assert seen["vars"]["doc"] == str((project.path / "cases" / "docs" / "ad.txt").resolve())


def test_image_and_inputs_together(pytester: pytest.Pytester) -> None:
    project = TextProject(pytester)
    (project.path / "cases").mkdir()
    (project.path / "cases" / "photo.png").write_bytes(png_bytes(3))
    project.case("both", {"image": "photo.png", "inputs": {"text": "guitar"}, "expected": {"subject": "guitar"}})
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert project.seen()[0]["image"] == "photo.png"


def test_the_new_judge_form_gets_the_case_input(pytester: pytest.Pytester) -> None:
    project = TextProject(pytester)
    project.case("judged", {"inputs": {"text": "cello"}, "expected": {"note": {"judge": "is it kind?"}}})
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    (check,) = run.case("judged")["fields"]["note"]["checks"]
    assert check["passed"] is True
    assert check["detail"] == "judged judged with inputs ['text']"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"expected": {"subject": "x"}}, "a case needs 'image' (a file beside it) or 'inputs' (a mapping), or both"),
        ({"inputs": [1, 2], "expected": {"subject": "x"}}, "'inputs' must map at least one name"),
        ({"inputs": {}, "expected": {"subject": "x"}}, "'inputs' must map at least one name"),
        ({"inputs": {"two words": 1}, "expected": {"subject": "x"}}, "input name 'two words' must be an identifier"),
        (
            {"inputs": {"doc": {"file": "nope.txt"}}, "expected": {"subject": "x"}},
            "input 'doc' file 'nope.txt' not found",
        ),
        (
            {"inputs": {"doc": {"file": "a.txt", "encoding": "latin-1"}}, "expected": {"subject": "x"}},
            "a file input is {file: path} and nothing else",
        ),
        ({"inputs": {"other": 1}, "expected": {"subject": "x"}}, "needs a text or doc input"),
    ],
)
def test_bad_inputs_are_collection_errors_naming_the_file(
    pytester: pytest.Pytester, document: dict[str, Any], message: str
) -> None:
    project = TextProject(pytester)
    project.case("bad", document)
    run = project.run("-m", "eval")
    assert run.ret != 0
    assert "cases/bad.yaml" in run.text
    assert message in run.text
    assert project.seen() == []


def test_a_file_input_outside_the_project_is_refused(pytester: pytest.Pytester, tmp_path_factory: Any) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("do not send", encoding="utf-8")
    project = TextProject(pytester)
    project.case("escape", {"inputs": {"doc": {"file": str(outside)}}, "expected": {"subject": "x"}})
    run = project.run("-m", "eval")
    assert run.ret != 0
    assert "outside the project" in run.text
    assert project.seen() == []


IMAGE_ONLY_TASK = """
from pathlib import Path
from pydantic import BaseModel
from pytest_listingeval.task import TaskDescription, TaskResult


class Out(BaseModel):
    subject: str


class ImageTask:
    output_model = Out

    def describe(self, model, prompt):
        return TaskDescription(model=model, prompt=prompt, prompt_id=prompt + "-1", prompt_text="p",
                               schema_id="s1", json_schema=Out.model_json_schema())

    def readiness_problem(self, recording):
        return None

    def run(self, image: Path, model: str, prompt: str) -> TaskResult:
        return TaskResult(output={"subject": image.stem})


task = ImageTask()
"""


def test_an_image_only_task_still_works_and_refuses_a_case_without_image(pytester: pytest.Pytester) -> None:
    project = TextProject(pytester)
    (project.path / "text_task.py").write_text(IMAGE_ONLY_TASK, encoding="utf-8")
    (project.path / "cases").mkdir()
    (project.path / "cases" / "harp.png").write_bytes(png_bytes(4))
    project.case("old", {"image": "harp.png", "expected": {"subject": "harp"}})
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.scores("old") == {"subject": 1}
    project.case("textonly", {"inputs": {"text": "harp"}, "expected": {"subject": "harp"}})
    run = project.run("-m", "eval")
    assert run.ret != 0
    assert "cases/textonly.yaml: the task takes an image" in run.text


def test_the_record_command_names_only_the_variables_the_task_asks_for(pytester: pytest.Pytester) -> None:
    project = TextProject(pytester)
    project.case("nocassette", {"inputs": {"text": "oboe"}, "expected": {"subject": "oboe"}})
    (project.path / "cassettes").joinpath("eval", MODEL, "base-1", "nocassette.yaml").unlink()
    run = project.run("-m", "eval")
    message = run.case("nocassette")["harness_error"]
    assert "record it with: pytest -m eval --record-mode=once" in message
    assert "OPENAI" not in message
    task_file = project.path / "text_task.py"
    declared = '    output_model = Summary\n    record_env = ("MY_KEY",)\n'
    task_file.write_text(task_file.read_text().replace("    output_model = Summary\n", declared))
    run = project.run("-m", "eval")
    assert "record it with: MY_KEY=... pytest -m eval" in run.case("nocassette")["harness_error"]
