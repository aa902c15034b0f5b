"""Every check through the real plugin, and the exact aggregate numbers."""

from __future__ import annotations

import pytest

from tests.plugin.harness_support import CASES, NEAR, NEAR_SIMILARITY, REFERENCE, GenericProject, instrument


def _project(pytester: pytest.Pytester) -> GenericProject:
    project = GenericProject(pytester)
    for case_id, expected, answer, _ in CASES:
        project.add(case_id, expected, answer)
    return project


def test_every_check_scores_as_the_contract_says(pytester: pytest.Pytester) -> None:
    """Each case's per-field scores, then the exact per-field, overall and exact-case numbers."""
    project = _project(pytester)
    run = project.run("-m", "eval")
    data = run.json

    assert {c["id"] for c in data["cases"]} == {c[0] for c in CASES}
    for case_id, _, _, scores in CASES:
        assert run.scores(case_id) == scores, (case_id, run.case(case_id)["fields"])

    # Field accuracy = mean over the cases that list the field (counted by hand from CASES):
    #   name : eq/fullwidth 1, eq/spaces 1, eq/expected-fullwidth 1, eq/miss 0, regex/ignorecase 1,
    #          regex/raw-fullwidth 0, zz/failed 0                                   -> 4/7
    #   kind : eq/fullwidth 1, eq/miss 0, eq/enum-member 1, any/hit 1, zz/failed 0  -> 3/5
    #   maker: null/none 1, null/empty 1, null/x 0, any/null-none 1, any/null-value 1,
    #          any/miss 0, zz/failed 0                                               -> 4/7
    #   blurb: null/empty 1, contains 1 0 1 0, regex/raw-spaces 1, similar 1 0 1, maxlen 1 0,
    #          list 1 0                                                              -> 8/13
    fields = data["summary"]["fields"]
    assert {name: f["n"] for name, f in fields.items()} == {"name": 7, "kind": 5, "maker": 7, "blurb": 13}
    assert fields["name"]["accuracy"] == pytest.approx(4 / 7, abs=1e-6)
    assert fields["kind"]["accuracy"] == pytest.approx(3 / 5, abs=1e-6)
    assert fields["maker"]["accuracy"] == pytest.approx(4 / 7, abs=1e-6)
    assert fields["blurb"]["accuracy"] == pytest.approx(8 / 13, abs=1e-6)
    # Overall is the micro mean over (case, field) pairs, not the mean of field accuracies.
    assert data["summary"]["overall"] == pytest.approx(19 / 32, abs=1e-6)
    assert data["summary"]["overall"] != pytest.approx((4 / 7 + 3 / 5 + 4 / 7 + 8 / 13) / 4, abs=1e-6)
    # Exact cases: every field right and no error. Failing cases: eq/miss, null/x, any/miss,
    # contains/all-miss, contains/any-miss, regex/raw-fullwidth, similar/above-min,
    # maxlen/over, list/one-fails, zz/failed = 10 of 27.
    assert data["summary"]["cases"] == 27
    assert data["summary"]["exact_cases"] == pytest.approx(17 / 27, abs=1e-6)
    assert data["summary"]["errors"] == 1
    assert run.case("zz/failed")["error"]["type"] == "refusal"
    # A field mismatch does not fail the run: the aggregate gate does (no baseline here).
    assert run.ret == 0, run.text
    assert data["verdict"] == "pass"


def test_similarity_and_check_details_are_kept_in_the_json(pytester: pytest.Pytester) -> None:
    """similar_to keeps the similarity it measured; other checks keep their name and result."""
    project = GenericProject(pytester)
    project.add("s", {"blurb": {"similar_to": REFERENCE, "min": 0.5}}, instrument(blurb=NEAR))
    project.add("l", {"blurb": [{"contains_any": ["viola"]}, {"max_len": 5}]}, instrument(blurb=NEAR))
    run = project.run("-m", "eval")
    similar = run.case("s")["fields"]["blurb"]
    assert similar["score"] == 1
    assert similar["checks"][0]["check"] == "similar_to"
    assert similar["checks"][0]["similarity"] == NEAR_SIMILARITY
    assert 0.5 < NEAR_SIMILARITY < 1
    listed = run.case("l")["fields"]["blurb"]
    assert [(c["check"], c["passed"]) for c in listed["checks"]] == [("contains_any", True), ("max_len", False)]
    assert listed["expected"] == [{"contains_any": ["viola"]}, {"max_len": 5}]
    assert listed["actual"] == NEAR
