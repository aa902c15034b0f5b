"""`listingeval cases import`: OpenAI Evals JSONL and pydantic-evals datasets to case files, and the report."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel

from extractor.cli import main
from pytest_listingeval.cases import load_case
from pytest_listingeval.importers.evaluators import (
    EvaluatorNotMapped,
    apply_evaluator,
    bind,
    map_evaluator,
    parse_evaluator,
)
from pytest_listingeval.importers.media import MediaError, decode_data_url, is_remote_image

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


class Ticket(BaseModel):
    category: Literal["Hardware", "Software", "Other"]


class Answer(BaseModel):
    answer: str
    confidence: float | None = None


class Listing(BaseModel):
    category: Literal["musical_instruments", "furniture", "collectibles_art", "home_garden", "other"]
    color: str | None = None
    brand: str | None = None
    condition: Literal["new", "like_new", "used", "for_parts", "unknown"] = "unknown"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose cases folder is `evalcases/` (so the command must read `[tool.listingeval]`)."""
    (tmp_path / "pyproject.toml").write_text('[tool.listingeval]\ncases = "evalcases"\n', encoding="utf-8")
    (tmp_path / "evalcases").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["cases", "import", *args])
    out, err = capsys.readouterr()
    return code, out, err


def written(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def case(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def source_line(name: str, number: int) -> dict[str, Any]:
    record = json.loads((DATA / name).read_text(encoding="utf-8").splitlines()[number - 1])
    assert isinstance(record, dict)
    return record


def data_url_bytes(url: str) -> bytes:
    return base64.b64decode(url.partition(",")[2])


def assert_one_line_error(err: str, *parts: str) -> None:
    assert err.startswith("listingeval: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err


# OpenAI Evals: hosted items


def test_hosted_items_become_cases_with_the_named_expected_field(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_import(
        capsys,
        "--from",
        "openai-evals",
        str(DATA / "tickets.jsonl"),
        "--out",
        "evalcases/tickets",
        "--expected-field",
        "correct_label",
        "--output-field",
        "category",
    )
    assert (code, err) == (0, "")
    folder = project / "evalcases" / "tickets"
    assert written(folder) == ["tickets-1.yaml", "tickets-2.yaml", "tickets-3.yaml"]
    assert (folder / "tickets-1.yaml").read_text(encoding="utf-8") == (
        "inputs:\n"
        "  ticket_text: My monitor won't turn on!\n"
        "expected:\n"
        "  category: Hardware\n"
        "tags:\n"
        "- from-openai-evals\n"
        "source:\n"
        "  format: openai-evals\n"
        "  file: tickets.jsonl\n"
        "  line: 1\n"
    )
    assert case(folder / "tickets-3.yaml")["expected"] == {"category": "Other"}
    assert "wrote 3 cases under evalcases/tickets" in out
    # The fourth item sits on line 5 (after a blank line) and has no label: skipped, said so.
    assert "skipped:\n  nothing to expect (no 'correct_label' value): 1 (tickets-4)\n" in out
    assert "  'sample' (a stored model answer; the task answers instead): 1 (tickets-2)\n" in out


def test_structured_ground_truth_and_data_url_images(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(
        capsys, "--from", "openai-evals", str(DATA / "receipts.jsonl"), "--out", "evalcases/receipts"
    )
    assert (code, err) == (0, "")
    folder = project / "evalcases" / "receipts"
    assert written(folder) == [
        "receipts-1.png",
        "receipts-1.yaml",
        "receipts-2.yaml",
        "receipts-3.jpg",
        "receipts-3.yaml",
    ]
    first = case(folder / "receipts-1.yaml")
    # The JSON-string mapping checks field by field, in the source's order; nested ones as paths.
    assert list(first["expected"].items()) == [
        ("merchant", "Café Central"),
        ("total", 12.5),
        ("address.city", "Vienna"),
        ("address.zip", "1010"),
        ("items", {"equals": ["Melange", "Sachertorte"]}),
    ]
    assert first["image"] == "receipts-1.png"
    assert first["inputs"] == {"currency_hint": "EUR"}
    image = (folder / "receipts-1.png").read_bytes()
    assert image.startswith(PNG_MAGIC)
    assert image == data_url_bytes(source_line("receipts.jsonl", 1)["item"]["receipt_image"])
    # Declared image/png, but the bytes are a JPEG: the file is named for what it is.
    third = case(folder / "receipts-3.yaml")
    assert third["image"] == "receipts-3.jpg"
    assert (folder / "receipts-3.jpg").read_bytes().startswith(JPEG_MAGIC)
    assert third["expected"] == {"merchant": None, "total": 3.2}
    second = case(folder / "receipts-2.yaml")
    assert "image" not in second
    assert second["expected"]["address.zip"] is None
    assert second["source"]["not_fetched"] == ["https://example.com/receipts/2.jpg"]
    text = (folder / "receipts-1.yaml").read_text(encoding="utf-8")
    assert "merchant: Café Central\n" in text and "address.zip: '1010'\n" in text
    assert "remote image URL (not fetched: no network): 2 (receipts-2, receipts-4)" in out
    assert "nothing to give the task (no input field could be mapped): 1 (receipts-4)" in out
    assert "input 'currency hint' renamed 'currency_hint' (inputs are named by identifiers): 3" in out


# OpenAI Evals: legacy samples


def test_legacy_samples_messages_images_and_ideal_lists(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(
        capsys, "--from", "openai-evals", str(DATA / "listings.jsonl"), "--out", "evalcases/listings"
    )
    assert (code, err) == (0, "")
    folder = project / "evalcases" / "listings"
    first = case(folder / "listings-1.yaml")
    assert first["image"] == "listings-1.png"
    assert first["inputs"] == {"input": "What should the listing say?"}
    assert first["expected"] == {"category": "musical_instruments", "color": "brown", "brand": None}
    url = source_line("listings.jsonl", 1)["input"][1]["content"][1]["image_url"]["url"]
    assert (folder / "listings-1.png").read_bytes() == data_url_bytes(url)
    second = case(folder / "listings-2.yaml")
    assert second["image"] == "listings-2.jpg" and "inputs" not in second
    # A list of ideals is a set of acceptable answers; the few-shot turn is not the input.
    third = case(folder / "listings-3.yaml")
    assert third["inputs"] == {"input": "An oil painting of a violin"}
    assert third["expected"] == {"output": {"any_of": ["collectibles_art", "musical_instruments"]}}
    assert case(folder / "listings-5.yaml")["expected"] == {"output": "home_garden"}
    assert case(folder / "listings-5.yaml")["inputs"] == {"input": "Is a teapot home_garden or other?"}
    fourth = case(folder / "listings-4.yaml")
    assert fourth["inputs"] == {"input": "Describe this lamp"} and "image" not in fourth
    assert "system message (the prompt belongs to the task): 4 (listings-1, listings-2, listings-3, and 1 more)" in out
    assert "few-shot turns (up to the last assistant message): 1 (listings-3)" in out
    assert "remote image URL (not fetched: no network): 1 (listings-4)" in out


def test_input_field_selects_inputs_and_says_what_it_left_out(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = project / "support.jsonl"
    source.write_text(
        json.dumps({"item": {"title": "Sofa", "internal_note": "VIP", "ground_truth": "furniture"}}) + "\n",
        encoding="utf-8",
    )
    code, out, _ = run_import(
        capsys,
        "--from",
        "openai-evals",
        str(source),
        "--out",
        "evalcases/support",
        "--input-field",
        "title",
        "--input-field",
        "photo",
    )
    assert code == 0
    written_case = case(project / "evalcases" / "support" / "support-1.yaml")
    assert written_case["inputs"] == {"title": "Sofa"}
    assert written_case["expected"] == {"output": "furniture"}
    # Inside the project, the source is named by its path from the project root.
    assert written_case["source"]["file"] == "support.jsonl"
    assert "field 'internal_note' (not an --input-field): 1 (support-1)" in out
    assert "--input-field 'photo' not in the item: 1 (support-1)" in out


# Unreadable input: one line, exit 2, nothing written


def test_bad_json_line_is_named_and_nothing_is_written(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(capsys, "--from", "openai-evals", str(DATA / "bad_line.jsonl"), "--out", "evalcases/x")
    assert code == 2 and out == ""
    assert_one_line_error(err, "bad_line.jsonl: line 3: bad JSON")
    assert written(project / "evalcases") == []


def test_a_line_that_is_not_an_object(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_import(capsys, "--from", "openai-evals", str(DATA / "not_object.jsonl"), "--out", "evalcases/x")
    assert code == 2
    assert_one_line_error(err, "not_object.jsonl: line 2: not a JSON object")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("data.toml", "cases = []\n", "data.toml: unknown format .toml"),
        ("data.yaml", "cases:\n  - name: a\n    inputs: [1\n", "data.yaml: bad YAML on line"),
        ("data.json", '{"cases": [}', "data.json: bad JSON on line 1"),
        ("data.yaml", "- inputs: 1\n", "data.yaml: not a mapping"),
        ("data.yaml", "name: x\ncases: {a: 1}\n", "'cases' must be a list"),
        ("data.yaml", "cases:\n- 3\n", "data.yaml: case 1 is not a mapping"),
        ("data.yaml", "cases:\n- inputs: 1\n  evaluators: EqualsExpected\n", "'evaluators' must be a list"),
    ],
)
def test_unreadable_datasets_are_one_line_errors(
    project: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    (project / name).write_text(text, encoding="utf-8")
    code, _, err = run_import(capsys, "--from", "pydantic-evals", name, "--out", "evalcases/x")
    assert code == 2
    assert_one_line_error(err, message)
    assert written(project / "evalcases") == []


def test_not_utf8_and_missing_sources(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "latin1.jsonl").write_bytes('{"input": "café", "ideal": "x"}\n'.encode("latin-1"))
    code, _, err = run_import(capsys, "--from", "openai-evals", "latin1.jsonl", "--out", "evalcases/x")
    assert code == 2
    assert_one_line_error(err, "latin1.jsonl: not UTF-8 text")
    code, _, err = run_import(capsys, "--from", "openai-evals", "missing.jsonl", "--out", "evalcases/x")
    assert code == 2
    assert_one_line_error(err, "missing.jsonl: no such file")


# pydantic-evals


def test_pydantic_yaml_dataset(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(
        capsys,
        "--from",
        "pydantic-evals",
        str(DATA / "questions.yaml"),
        "--out",
        "evalcases/questions",
        "--output-field",
        "answer",
    )
    assert (code, err) == (0, "")
    folder = project / "evalcases" / "questions"
    assert written(folder) == [
        "challenging-landmark-question.yaml",
        "easy-capital-question-2.yaml",
        "easy-capital-question.yaml",
        "open-ended.yaml",
        "questions-6.yaml",
    ]
    easy = case(folder / "easy-capital-question.yaml")
    assert easy["inputs"] == {"question": "What is the capital of France?", "context": None}
    assert list(easy["expected"].items()) == [("answer", "Paris"), ("confidence", 0.95)]
    assert easy["tags"] == ["from-pydantic-evals", "difficulty-easy", "category-geography"]
    assert easy["source"] == {
        "format": "pydantic-evals",
        "file": "questions.yaml",
        "case": "Easy Capital Question",
        "metadata": {"difficulty": "easy", "category": "Geography"},
    }
    assert case(folder / "easy-capital-question-2.yaml")["inputs"] == {"question": "What is the capital of Italy?"}
    landmark = case(folder / "challenging-landmark-question.yaml")
    # expected_output and Contains(value, case_sensitive=False) on the same field: both must pass.
    assert landmark["expected"] == {"answer": ["Eiffel Tower", {"contains_all": ["Eiffel"]}]}
    assert landmark["notes"] == "Several answers are defensible.\nThe Eiffel Tower is the one most people give."
    assert landmark["tags"] == [
        "from-pydantic-evals",
        "difficulty-hard",
        "category-landmarks",
        "landmarks",
        "multi-answer",
    ]
    landmark_text = (folder / "challenging-landmark-question.yaml").read_text(encoding="utf-8")
    assert "notes: |-\n  Several answers are defensible.\n" in landmark_text
    judged = case(folder / "open-ended.yaml")
    assert judged["expected"] == {
        "answer": [{"judge": "Mentions the Seine or the Eiffel Tower, in one sentence."}, {"contains_all": ["Paris"]}]
    }
    unnamed = case(folder / "questions-6.yaml")
    assert unnamed["inputs"] == {"input": "What is 2 + 2?"}
    assert unnamed["expected"] == {"answer": "4"}
    assert unnamed["source"]["case"] == 6
    report = out.split("not mapped:\n", 1)[1]
    for line in (
        "evaluator MaxDuration (no listingeval check does what it does): 5 "
        "(Easy Capital Question, Challenging Landmark Question, open ended, and 2 more)",
        "evaluator HasMatchingSpan (no listingeval check does what it does): 5",
        "evaluator check_units (no listingeval check does what it does): 5",
        "evaluator IsInstance (no listingeval check does what it does): 2 "
        "(Challenging Landmark Question, no expectations)",
        "LLMJudge include_input (the task's judge model decides): 1 (open ended)",
        "Contains is case-sensitive (contains_all ignores case): 1 (open ended)",
        "repeated name (written with a -2, -3... suffix): 1 (easy-capital-question-2)",
    ):
        assert f"  {line}" in report
    assert "skipped:\n  nothing to expect (no expected_output, no evaluator that maps): 1 (no expectations)\n" in out


def test_pydantic_json_dataset_with_full_and_keyword_evaluator_forms(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_import(capsys, "--from", "pydantic-evals", str(DATA / "products.json"), "--out", "evalcases/p")
    assert code == 0
    folder = project / "evalcases" / "p"
    assert written(folder) == ["headphones.yaml", "oak-desk.yaml"]
    desk = case(folder / "oak-desk.yaml")
    # Contains({category: furniture}) repeats expected_output (no duplicate); Equals({value: {...}}) adds a field.
    assert list(desk["expected"].items()) == [
        ("category", "furniture"),
        ("dimensions.width_cm", 120),
        ("dimensions.depth_cm", 60),
        ("materials", {"equals": ["oak"]}),
        ("condition", "used"),
    ]
    assert desk["tags"] == ["from-pydantic-evals", "source-support-inbox"]
    # {Equals: {brand: Sony}} reads as keyword arguments, as pydantic-evals reads it: Equals takes no `brand`.
    assert case(folder / "headphones.yaml")["expected"] == {"category": "electronics", "brand": "Sony"}
    assert "evaluator Equals with arguments it does not take (brand): 1 (headphones)" in out
    assert "dataset key 'report_evaluators': 1 (the dataset)" in out


def test_names_cannot_escape_the_out_folder(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "names.yaml").write_text(
        "cases:\n"
        "- {name: ../../escape, inputs: a, expected_output: x}\n"
        "- {name: 'Ça va? Über/..', inputs: b, expected_output: y}\n"
        "- {name: '???', inputs: c, expected_output: z}\n"
        "- {name: names-3, inputs: d, expected_output: w}\n",
        encoding="utf-8",
    )
    code, out, _ = run_import(capsys, "--from", "pydantic-evals", "names.yaml", "--out", "evalcases/n")
    assert code == 0
    assert written(project / "evalcases") == [
        "n/ca-va-uber.yaml",
        "n/escape.yaml",
        "n/names-3-2.yaml",
        "n/names-3.yaml",
    ]
    assert sorted(p.name for p in project.iterdir()) == ["evalcases", "names.yaml", "pyproject.toml"]
    assert case(project / "evalcases" / "n" / "names-3.yaml")["source"]["case"] == "???"
    assert "name with nothing usable in a file name (id <stem>-<n> instead): 1 (???)" in out


# Writing: refusals, --force, --dry-run, stability


def test_existing_files_are_refused_and_force_rewrites_them_identically(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--from", "openai-evals", str(DATA / "listings.jsonl"), "--out", "evalcases/listings")
    assert run_import(capsys, *args)[0] == 0
    folder = project / "evalcases" / "listings"
    first = {name: (folder / name).read_bytes() for name in written(folder)}
    (folder / "listings-3.yaml").write_text("edited by hand\n", encoding="utf-8")
    code, out, err = run_import(capsys, *args)
    assert code == 2 and out == ""
    assert_one_line_error(err, "7 file(s) already exist", "nothing written", "--force")
    assert (folder / "listings-3.yaml").read_text(encoding="utf-8") == "edited by hand\n"
    assert run_import(capsys, *args, "--force")[0] == 0
    assert {name: (folder / name).read_bytes() for name in written(folder)} == first


def test_dry_run_lists_the_files_and_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_import(
        capsys, "--from", "openai-evals", str(DATA / "receipts.jsonl"), "--out", "evalcases/r", "--dry-run"
    )
    assert code == 0
    assert out.startswith("would write 3 cases and 2 files beside them under evalcases/r\n")
    assert "  evalcases/r/receipts-1.yaml\n  evalcases/r/receipts-1.png\n" in out
    assert "remote image URL" in out
    assert not (project / "evalcases" / "r").exists()


def test_out_must_be_inside_the_cases_folder(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for out_dir in ("cases/x", "evalcases/../elsewhere", str(project.parent / "outside")):
        code, _, err = run_import(capsys, "--from", "openai-evals", str(DATA / "tickets.jsonl"), "--out", out_dir)
        assert code == 2
        assert_one_line_error(err, "is outside the cases folder evalcases")
    assert written(project) == ["pyproject.toml"]


def test_nothing_importable_exits_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(
        capsys, "--from", "openai-evals", str(DATA / "tickets.jsonl"), "--out", "evalcases/t", "--expected-field", "no"
    )
    assert code == 1
    assert_one_line_error(err, "every item was skipped")
    assert "nothing to expect (no 'no' value): 4 (tickets-1, tickets-2, tickets-3, and 1 more)" in out
    assert not (project / "evalcases" / "t").exists()


def test_expected_field_is_refused_for_pydantic_evals(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--from", "pydantic-evals", str(DATA / "questions.yaml"), "--out", "evalcases/q")
    code, _, err = run_import(capsys, *args, "--expected-field", "a")
    assert code == 2
    assert_one_line_error(err, "--expected-field applies to --from openai-evals")


def test_written_yaml_is_block_style(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("receipts.jsonl", "listings.jsonl"):
        assert run_import(capsys, "--from", "openai-evals", str(DATA / name), "--out", f"evalcases/{name}")[0] == 0
    assert run_import(capsys, "--from", "pydantic-evals", str(DATA / "questions.yaml"), "--out", "evalcases/q")[0] == 0
    texts = [p.read_text(encoding="utf-8") for p in (project / "evalcases").rglob("*.yaml")]
    assert len(texts) == 13
    for text in texts:
        assert not any(c in text for c in "{}[]&*"), text  # no flow collections, anchors or aliases


def test_values_shared_in_the_source_are_written_out_in_full(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "anchors.yaml").write_text(
        "cases:\n"
        "- name: anchored\n"
        "  inputs: &shared {items: [a, b]}\n"
        "  metadata: {copy: *shared}\n"
        "  expected_output: x\n",
        encoding="utf-8",
    )
    assert run_import(capsys, "--from", "pydantic-evals", "anchors.yaml", "--out", "evalcases/a")[0] == 0
    text = (project / "evalcases" / "a" / "anchored.yaml").read_text(encoding="utf-8")
    assert "&" not in text and "*" not in text
    assert case(project / "evalcases" / "a" / "anchored.yaml")["source"]["metadata"] == {"copy": {"items": ["a", "b"]}}


# The command group


def test_cases_group_lists_import_and_promote(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["cases", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "{import,promote}" in out
    for command in ("import", "promote"):
        with pytest.raises(SystemExit) as done:
            main(["cases", command, "--help"])
        assert done.value.code == 0
        assert f"usage: listingeval cases {command}" in capsys.readouterr().out


def test_importers_need_neither_openai_nor_pillow_nor_fastapi(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "BLOCKED = {'openai', 'PIL', 'fastapi', 'starlette', 'extractor'}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'blocked {name}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from pytest_listingeval import cases_import_cli\n"
        "from pytest_listingeval.importers import ImportOptions, read_source\n"
        "from pytest_listingeval.importers.writer import plan_cases\n"
        "imported = read_source('openai-evals', Path(sys.argv[1]), ImportOptions(), 'x')\n"
        "print(len(plan_cases(imported, Path(sys.argv[2]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(DATA / "listings.jsonl"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "5\n", "")


# Round trip through the harness's own loader


def test_an_image_case_loads_with_load_case(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_import(capsys, "--from", "openai-evals", str(DATA / "listings.jsonl"), "--out", "evalcases/l")[0] == 0
    path = project / "evalcases" / "l" / "listings-2.yaml"
    loaded = load_case(path, project / "evalcases", Listing)
    assert loaded.id == "l/listings-2"
    assert loaded.image == (project / "evalcases" / "l" / "listings-2.jpg").resolve()
    assert loaded.expected == {"category": "furniture", "condition": "used"}
    assert loaded.tags == ("from-openai-evals",)


def test_cases_with_inputs_load_with_load_case(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = ("--from", "openai-evals", str(DATA / "tickets.jsonl"), "--expected-field", "correct_label")
    assert run_import(capsys, *tickets, "--output-field", "category", "--out", "evalcases/t")[0] == 0
    questions = ("--from", "pydantic-evals", str(DATA / "questions.yaml"), "--output-field", "answer")
    assert run_import(capsys, *questions, "--out", "evalcases/q")[0] == 0
    cases_root = project / "evalcases"
    loaded = [load_case(p, cases_root, Ticket) for p in sorted((cases_root / "t").glob("*.yaml"))]
    loaded += [load_case(p, cases_root, Answer) for p in sorted((cases_root / "q").glob("*.yaml"))]
    assert [c.id for c in loaded] == [
        "t/tickets-1",
        "t/tickets-2",
        "t/tickets-3",
        "q/challenging-landmark-question",
        "q/easy-capital-question-2",
        "q/easy-capital-question",
        "q/open-ended",
        "q/questions-6",
    ]
    assert loaded[0].expected == {"category": "Hardware"}
    assert loaded[0].inputs == {"ticket_text": "My monitor won't turn on!"}


# The mapping rules on their own


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("EqualsExpected", ("EqualsExpected", [], {})),
        ({"IsInstance": "str"}, ("IsInstance", ["str"], {})),
        (
            {"Contains": {"value": "x", "case_sensitive": False}},
            ("Contains", [], {"value": "x", "case_sensitive": False}),
        ),
        ({"Equals": [1, 2]}, ("Equals", [[1, 2]], {})),
        (
            {"call": "Contains", "args": ["x"], "kwargs": {"as_strings": True}},
            ("Contains", ["x"], {"as_strings": True}),
        ),
    ],
)
def test_the_serialised_evaluator_forms(spec: Any, parsed: tuple[str, list[Any], dict[str, Any]]) -> None:
    assert parse_evaluator(spec) == parsed


def test_evaluators_that_do_not_bind_are_not_mapped() -> None:
    with pytest.raises(EvaluatorNotMapped, match="form pydantic-evals does not write"):
        parse_evaluator({"Equals": 1, "Contains": 2})
    with pytest.raises(EvaluatorNotMapped, match="more arguments than it takes"):
        bind("Equals", [1, "name", 3], {})
    with pytest.raises(EvaluatorNotMapped, match="without its 'rubric'"):
        bind("LLMJudge", [], {"model": "openai:gpt-4o"})
    expected: dict[str, Any] = {}
    assert map_evaluator({"Contains": [1]}, expected, "output") == ["Contains with a list or mapping value"]
    assert map_evaluator({"Contains": {"value": {"a": 1}, "as_strings": True}}, expected, "output") == [
        "Contains with a list or mapping value"
    ]
    assert expected == {}


def test_equals_and_contains_checks() -> None:
    expected: dict[str, Any] = {"output": "Paris"}
    assert apply_evaluator(bind("Equals", [[1, 2]], {}), expected, "output") == []
    assert expected == {"output": ["Paris", {"equals": [1, 2]}]}
    expected = {}
    kinds = apply_evaluator(bind("Contains", ["Seine"], {}), expected, "output")
    kinds += apply_evaluator(bind("Contains", ["River"], {"case_sensitive": False}), expected, "output")
    kinds += apply_evaluator(bind("Contains", [42], {"as_strings": True}), expected, "output")
    # Several Contains on one field join into one contains_all; only the case-sensitive text one is flagged.
    assert expected == {"output": {"contains_all": ["Seine", "River", "42"]}}
    assert kinds == ["Contains is case-sensitive (contains_all ignores case)"] * 2
    # On a mapping, pydantic-evals' Contains checks each key's value: one check per field.
    assert apply_evaluator(bind("Contains", [{"color": "red", "size": {"cm": 3}}], {}), expected, "output") == []
    assert expected == {"output": {"contains_all": ["Seine", "River", "42"]}, "color": "red", "size.cm": 3}


def test_data_urls() -> None:
    png = base64.b64encode(PNG_MAGIC + b"rest").decode()
    assert decode_data_url(f"data:image/png;base64,{png}").suffix == ".png"
    webp = base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPVP8 ").decode()
    assert decode_data_url(f"data:image/webp;base64,{webp}").suffix == ".webp"
    assert decode_data_url("data:application/pdf;base64,JVBERi0=").suffix == ".pdf"
    for url, problem in (
        ("data:image/png,rawbytes", "not in base64"),
        ("data:image/png;base64,@@@", "bad base64"),
        (f"data:image/png;base64,{base64.b64encode(b'<svg/>').decode()}", "not a png, jpeg, gif or webp"),
    ):
        with pytest.raises(MediaError, match=problem):
            decode_data_url(url)
    assert is_remote_image("https://example.com/a/b.JPG?size=large")
    assert not is_remote_image("https://example.com/page")
    assert not is_remote_image("http://[::1")


def test_the_fixtures_really_hold_images() -> None:
    """The tests above rely on these fixture lines carrying a PNG and a JPEG (declared PNG)."""
    assert data_url_bytes(source_line("receipts.jsonl", 1)["item"]["receipt_image"]).startswith(PNG_MAGIC)
    assert data_url_bytes(source_line("receipts.jsonl", 3)["item"]["receipt_image"]).startswith(JPEG_MAGIC)
    assert source_line("receipts.jsonl", 3)["item"]["receipt_image"].startswith("data:image/png;")


def test_the_documented_example_prints_what_the_docs_say(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "importing-cases.md").read_text(encoding="utf-8")
    example = doc.split("## A runnable example", 1)[1]
    script = example.split("```bash\n", 1)[1].split("```", 1)[0]
    printed = example.split("prints\n\n```\n", 1)[1].split("```", 1)[0]
    jsonl = script.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    (project / "tickets.jsonl").write_text(jsonl + "\n", encoding="utf-8")
    (project / "pyproject.toml").write_text('[tool.listingeval]\ncases = "cases"\n', encoding="utf-8")
    options = ("--expected-field", "correct_label", "--output-field", "category")
    assert " ".join(options) in script and "--out cases/imported-tickets" in script
    code, out, _ = run_import(
        capsys, "--from", "openai-evals", "tickets.jsonl", "--out", "cases/imported-tickets", *options
    )
    assert code == 0
    case_text = (project / "cases" / "imported-tickets" / "tickets-1.yaml").read_text(encoding="utf-8")
    assert out + case_text == printed


def test_several_files_in_one_item(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = base64.b64encode(PNG_MAGIC + b"front").decode()
    back = base64.b64encode(PNG_MAGIC + b"back").decode()
    record = {
        "item": {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Front and back of the box"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{png}"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{back}"},
                    ],
                }
            ],
            "manual": "data:application/pdf;base64,JVBERi0xLjQK",
            "ground_truth": "boxed",
        }
    }
    (project / "boxes.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert run_import(capsys, "--from", "openai-evals", "boxes.jsonl", "--out", "evalcases/b")[0] == 0
    folder = project / "evalcases" / "b"
    written_case = case(folder / "boxes-1.yaml")
    # The first image is the case's image; the second image and the PDF are file inputs beside it.
    assert written_case["image"] == "boxes-1.png"
    assert written_case["inputs"] == {
        "messages": "Front and back of the box",
        "messages_image_2": {"file": "boxes-1.messages_image_2.png"},
        "manual": {"file": "boxes-1.manual.pdf"},
    }
    assert (folder / "boxes-1.png").read_bytes() == PNG_MAGIC + b"front"
    assert (folder / "boxes-1.messages_image_2.png").read_bytes() == PNG_MAGIC + b"back"
    assert (folder / "boxes-1.manual.pdf").read_bytes() == b"%PDF-1.4\n"


def test_an_empty_jsonl_file_is_an_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    code, _, err = run_import(capsys, "--from", "openai-evals", "empty.jsonl", "--out", "evalcases/e")
    assert code == 2
    assert_one_line_error(err, "empty.jsonl: no items")
