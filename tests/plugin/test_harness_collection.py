"""Collection of case files, selection, statuses, cassettes and task crashes, via pytester."""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterator

import pytest

from pytest_listingeval.fake_openai import FakeOpenAI
from tests.plugin.harness_support import GenericProject, image_stem, instrument


def test_no_case_collected_fails_with_a_clear_message(pytester: pytest.Pytester) -> None:
    """`-m eval` with no case at all: non-zero exit, the JSON and the terminal say why."""
    project = GenericProject(pytester)
    run = project.run("-m", "eval")
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    assert any("no eval case was collected" in e for e in run.json["harness_errors"])
    run.result.stdout.fnmatch_lines(["*HARNESS ERROR no eval case was collected*"])


def test_k_selecting_nothing_fails_too(pytester: pytest.Pytester) -> None:
    """A -k that deselects every case is also an eval run without cases."""
    project = GenericProject(pytester)
    project.add("music/violin", {"kind": "violin"}, instrument())
    run = project.run("-m", "eval", "-k", "nothing_matches_this")
    assert run.ret != 0
    assert run.json["verdict"] == "error"


def test_k_selects_one_case_by_id(pytester: pytest.Pytester) -> None:
    """`-k music/violin` runs that case only; the JSON holds only it."""
    project = GenericProject(pytester)
    project.add("music/violin", {"kind": "violin"}, instrument())
    project.add("music/drum", {"kind": "drum"}, instrument(kind="drum"))
    run = project.run("-m", "eval", "-k", "music/violin")
    run.result.assert_outcomes(passed=1, deselected=1)
    assert [c["id"] for c in run.json["cases"]] == ["music/violin"]
    assert run.ret == 0


def test_unit_run_is_untouched(pytester: pytest.Pytester) -> None:
    """`-m unit` in a project with cases: no eval summary, no verdict, no JSON."""
    project = GenericProject(pytester)
    project.add("music/violin", {"kind": "violin"}, instrument())
    pytester.makepyfile(test_unit="import pytest\n\n@pytest.mark.unit\ndef test_ok():\n    pass\n")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"eval: eval cases"', '"eval: e", "unit: u"'))
    result = pytester.runpytest("-p", "no:cacheprovider", "-m", "unit")
    result.assert_outcomes(passed=1, deselected=1)
    assert "listingeval" not in result.stdout.str().replace("listingeval-0", "")
    assert result.ret == 0


def test_mismatch_shows_its_own_status_but_passes(pytester: pytest.Pytester) -> None:
    """A wrong field: `M` / MISMATCH in the progress, yet the item passes and the run exits 0."""
    project = GenericProject(pytester)
    project.add("right", {"kind": "violin"}, instrument())
    project.add("wrong", {"kind": "drum"}, instrument(kind="guitar"))
    run = project.run("-m", "eval", "-v")
    run.result.stdout.fnmatch_lines(["*right*PASSED*", "*wrong*MISMATCH*"])
    outcomes = run.result.parseoutcomes()
    assert "failed" not in outcomes and "error" not in outcomes
    assert outcomes.get("passed", 0) + outcomes.get("mismatch", 0) == 2
    assert run.ret == 0
    quiet = project.run("-m", "eval")
    quiet.result.stdout.fnmatch_lines(["cases/right.yaml .*", "cases/wrong.yaml M*"])


def test_eval_marker_needs_no_registration(pytester: pytest.Pytester) -> None:
    """A project that never registered `eval` still runs its cases under --strict-markers."""
    project = GenericProject(pytester, markers=False)
    project.add("music/violin", {"kind": "violin"}, instrument())
    run = project.run("-m", "eval", "--strict-markers", "-W", "error::pytest.PytestUnknownMarkWarning")
    assert run.ret == 0, run.text
    run.result.assert_outcomes(passed=1)


BAD_CASES = {
    "bad_yaml": ("image: [unclosed\nexpected: {kind: violin}\n", "bad YAML"),
    "no_image": ("image: images/absent.png\nexpected: {kind: violin}\n", "not found"),
    "unknown_field": ("image: images/ok.png\nexpected: {colour: red}\n", "unknown field 'colour'"),
    "unknown_check": ("image: images/ok.png\nexpected: {name: {startswith: vio}}\n", "unknown check 'startswith'"),
    "bad_enum": ("image: images/ok.png\nexpected: {kind: trumpet}\n", "value 'trumpet' is not allowed"),
    "bad_enum_any_of": ("image: images/ok.png\nexpected: {kind: {any_of: [violin, tuba]}}\n", "'tuba' is not allowed"),
    "unknown_key": ("image: images/ok.png\nexpected: {kind: violin}\nlabels: [x]\n", "unknown key(s) ['labels']"),
    "no_expected": ("image: images/ok.png\n", "'expected' must map"),
    "bad_critical": ("image: images/ok.png\nexpected: {kind: violin}\ncritical: [name]\n", "not in 'expected'"),
}


def test_bad_case_files_are_collection_errors_naming_the_file(pytester: pytest.Pytester) -> None:
    """Each malformed case: a collection error whose message names the file and the problem."""
    project = GenericProject(pytester)
    project.add("good", {"kind": "violin"}, instrument())
    project.write_case("ok_image_holder", {"kind": "violin"})  # provides a valid image to point at
    (project.path / "cases" / "ok_image_holder.yaml").unlink()
    (project.path / "cases" / "images" / "ok_image_holder.png").rename(project.path / "cases" / "images" / "ok.png")
    for name, (text, _) in BAD_CASES.items():
        (project.path / "cases" / f"{name}.yaml").write_text(text, encoding="utf-8")
    run = project.run("-m", "eval")
    assert run.ret != 0
    output = run.text
    for name, (_, message) in BAD_CASES.items():
        lines = [line for line in output.splitlines() if f"cases/{name}.yaml" in line and message in line]
        assert lines, f"no collection error naming cases/{name}.yaml with {message!r}:\n{output}"
    outcomes = run.result.parseoutcomes()
    assert outcomes.get("errors", outcomes.get("error")) == len(BAD_CASES)


@pytest.mark.parametrize("how", ["relative path", "symlink"])
def test_an_image_outside_the_project_is_a_collection_error(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, how: str
) -> None:
    """A case cannot make the harness read, send and embed a file from outside the project."""
    project = GenericProject(pytester)
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    (project.path / "cases").mkdir()
    (project.path / "cases" / "images").mkdir()
    outside.write_bytes((project.path / "fake_task.py").read_bytes())
    if how == "symlink":
        (project.path / "cases" / "images" / "link.png").symlink_to(outside)
        image = "images/link.png"
    else:
        image = "../" * len(project.path.parts) + outside.as_posix().lstrip("/")
    (project.path / "cases" / "leak.yaml").write_text(f"image: {image}\nexpected: {{kind: violin}}\n", encoding="utf-8")
    run = project.run("-m", "eval")
    assert run.ret == 1
    assert run.json["verdict"] == "error"
    message = " ".join(run.json["harness_errors"])
    assert "cases/leak.yaml" in message and "outside the project" in message


def test_duplicate_case_id_is_an_error(pytester: pytest.Pytester) -> None:
    """violin.yaml and violin.yml share the id `violin`: a collection error naming both files."""
    project = GenericProject(pytester)
    first = project.add("violin", {"kind": "violin"}, instrument())
    second = first.with_suffix(".yml")
    second.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    run = project.run("-m", "eval")
    assert run.ret != 0
    run.result.stdout.fnmatch_lines(["*duplicate case id 'violin'*"])
    assert "violin.yml" in run.text and "violin.yaml" in run.text


def test_task_crash_is_a_harness_error_for_that_case_only(pytester: pytest.Pytester) -> None:
    """A task that raises: that case fails with the exception named; the others are scored."""
    project = GenericProject(pytester)
    project.add("ok", {"kind": "violin"}, instrument())
    project.add("boom", {"kind": "violin"}, {"__raise__": "the model server exploded"})
    run = project.run("-m", "eval")
    run.result.assert_outcomes(passed=1, failed=1)
    run.result.stdout.fnmatch_lines(["*boom: the task crashed: RuntimeError: the model server exploded*"])
    assert run.ret != 0
    assert run.json["verdict"] == "error"
    boom = run.case("boom")
    assert boom["error"]["type"] == "harness_error"
    assert "RuntimeError" in boom["harness_error"]
    assert boom["fields"]["kind"]["score"] == 0
    assert run.case("ok")["fields"]["kind"]["score"] == 1
    assert run.json["summary"]["cases"] == 2


def test_missing_cassette_fails_that_case_with_the_record_command(pytester: pytest.Pytester) -> None:
    """No cassette under --record-mode none: that case fails naming the path and the command."""
    project = GenericProject(pytester)
    project.add("ok", {"kind": "violin"}, instrument())
    project.add("music/new", {"kind": "violin"}, instrument(), cassette=False)
    run = project.run("-m", "eval")
    run.result.assert_outcomes(passed=1, failed=1)
    expected_path = f"cassettes/eval/fake-model/{project.prompt_id}/music/new.yaml"
    run.result.stdout.fnmatch_lines([f"*missing cassette {expected_path}*"])
    message = run.case("music/new")["harness_error"]
    assert "--record-mode=once" in message and message.endswith(" cases/music/new.yaml")
    assert run.json["verdict"] == "error" and run.ret != 0


# -- cassettes for real: the generic task asks a local server when FAKE_TASK_URL is set ------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server the generic task asks (FAKE_TASK_URL)."""
    with FakeOpenAI() as fake:
        fake.answer_with(None)
        monkeypatch.setenv("FAKE_TASK_URL", fake.base_url)
        yield fake


def _serve(server: FakeOpenAI, project: GenericProject, answers: dict[str, dict[str, object]]) -> None:
    for case_id, answer in answers.items():
        image = project.path / "cases" / "images" / f"{image_stem(case_id)}.png"
        server.answer_image(hashlib.sha256(image.read_bytes()).hexdigest(), answer)


def _command_args(message: str) -> list[str]:
    """The pytest arguments of the command a harness message tells a person to run."""
    command = message.split("with: ", 1)[1]
    words = shlex.split(command)
    return words[words.index("pytest") + 1 :]


def test_record_then_replay_then_prompt_edit_then_stale(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed commands work: record, replay with no server, new prompt id, stale params."""
    project = GenericProject(pytester)
    project.add("music/violin", {"name": "violin", "kind": "violin"}, instrument(), cassette=False)
    project.add("music/violin2", {"kind": "violin"}, instrument(), cassette=False)
    project.add("drum", {"kind": "drum"}, instrument(kind="drum"), cassette=False)
    _serve(
        server,
        project,
        {
            "music/violin": instrument("Violin"),
            "music/violin2": instrument("Violin"),
            "drum": instrument("Drum", "drum"),
        },
    )

    missing = project.run("-m", "eval")
    assert missing.ret != 0 and len(server.requests) == 0
    record = _command_args(missing.case("music/violin")["harness_error"])
    recorded = project.run(*record)
    assert recorded.ret == 0, recorded.text
    # the command records that case only, not every id it is a substring of (music/violin2)
    assert [c["id"] for c in recorded.json["cases"]] == ["music/violin"]
    assert not project.cassette("music/violin2").exists()
    cassette = project.cassette("music/violin")
    assert cassette.is_file()
    assert "base64" not in cassette.read_text(encoding="utf-8")
    project.run("-m", "eval", "--record-mode=once", "-k", "drum or violin2")
    assert len(server.requests) == 3

    # Replay with the server gone: the answers can only come from the cassettes.
    server.stop()
    replayed = project.run("-m", "eval")
    assert replayed.ret == 0, replayed.text
    assert replayed.scores("music/violin") == {"name": 1, "kind": 1}
    assert replayed.case("drum")["output"]["name"] == "Drum"

    # A prompt edit gives a new prompt id, so a new cassette folder: missing, with the command.
    old_id = project.prompt_id
    project.set_prompt("Name the instrument, and be brief.\n")
    assert project.prompt_id != old_id
    edited = project.run("-m", "eval")
    assert edited.ret != 0
    message = edited.case("music/violin")["harness_error"]
    assert f"prompt {project.prompt_id}" in message and "--record-mode=once" in message
    project.set_prompt("Name the instrument in the picture.\n")

    # A parameter change keeps the prompt id but changes the request: a stale cassette.
    (project.path / "params.json").write_text(json.dumps({"detail": "low"}), encoding="utf-8")
    stale = project.run("-m", "eval")
    assert stale.ret != 0
    message = stale.case("drum")["harness_error"]
    assert message.startswith("stale cassette cassettes/eval/fake-model/")
    assert "--record-mode=rewrite" in message and message.endswith(" cases/drum.yaml")
    stale.result.stdout.fnmatch_lines(["*drum: stale cassette*re-record it with*--record-mode=rewrite*"])


def test_rewrite_command_rerecords_a_stale_cassette(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    """Running the printed re-record command fixes the stale case."""
    project = GenericProject(pytester)
    project.add("drum", {"kind": "drum"}, instrument(kind="drum"), cassette=False)
    _serve(server, project, {"drum": instrument("Drum", "drum")})
    assert project.run("-m", "eval", "--record-mode=once").ret == 0
    (project.path / "params.json").write_text(json.dumps({"detail": "high"}), encoding="utf-8")
    stale = project.run("-m", "eval")
    rerecord = _command_args(stale.case("drum")["harness_error"])
    assert project.run(*rerecord).ret == 0
    assert "high" in project.cassette("drum").read_text(encoding="utf-8")
    again = project.run("-m", "eval")
    assert again.ret == 0, again.text
