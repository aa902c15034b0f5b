"""A case's inputs reach the extractor's prompt template; a listing case must give a photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from extractor.eval import ListingTask
from extractor.outcome import ExtractionFailure, Outcome
from extractor.prompts import Prompt, load_prompt
from pytest_listingeval.task import CaseInput, case_problem

pytestmark = pytest.mark.unit


def test_inputs_render_in_the_template_and_leave_the_id_alone() -> None:
    source = "Colours: {{ colors | length }}. {% if 'note' in inputs %}Seller says: {{ inputs.note }}{% endif %}"
    prompt = Prompt("t", source)
    with_note = prompt.with_inputs({"note": "bought in 1990"})
    assert with_note.id == prompt.id
    assert with_note.render().endswith("Seller says: bought in 1990")
    assert "Seller says" not in prompt.render()


def test_a_template_asking_for_an_input_the_case_lacks_fails_loudly() -> None:
    prompt = Prompt("t", "{{ inputs.note.upper() }}").with_inputs({"other": 1})
    with pytest.raises(jinja2.UndefinedError):
        prompt.render()


def test_the_shipped_templates_render_the_same_with_and_without_inputs() -> None:
    # Existing cassettes were recorded without inputs: unused inputs must not change the request.
    prompt = load_prompt("default")
    assert prompt.with_inputs({"note": "x"}).render() == prompt.render()


def test_the_listing_task_passes_the_case_inputs_and_needs_a_photo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = ListingTask()
    photo = tmp_path / "p.png"
    photo.write_bytes(b"not read here")
    calls: list[dict[str, Any]] = []

    def fake_extract_file(path: Path, **kwargs: Any) -> Outcome:
        calls.append({"path": path, **kwargs})
        return ExtractionFailure(type="api_error", message="stop here")

    monkeypatch.setattr(task.extractor, "extract_file", fake_extract_file)
    doc = tmp_path / "d.txt"
    result = task.run(CaseInput("c", photo, {"note": "mint", "doc": doc}), "m", "default")
    assert result.error is not None
    assert calls == [{"path": photo, "model": "m", "prompt": "default", "inputs": {"note": "mint", "doc": str(doc)}}]
    assert case_problem(task, CaseInput("c", photo)) is None
    needs_photo = "a listing case needs 'image' (the seller's photo)"
    assert case_problem(task, CaseInput("c", None, {"note": "x"})) == needs_photo
