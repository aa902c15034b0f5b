"""Every check of DESIGN section 5 through the real plugin, and the exact aggregate numbers."""

from __future__ import annotations

from typing import Any

import pytest
from rapidfuzz import fuzz

try:
    from tests.plugin.harness_support import GenericProject, instrument
except ImportError:  # run from tests/plugin
    from harness_support import GenericProject, instrument  # type: ignore[no-redef]

REFERENCE = "a wooden violin with a bow"
NEAR = "a wooden viola with a bow"
# The similarity rapidfuzz gives (normalised strings are already lower-case, single-spaced).
NEAR_SIMILARITY = round(fuzz.ratio(NEAR, REFERENCE) / 100.0, 4)

# (case id, expected, answer, scores each field must get)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, int]]] = [
    # plain equality: NFKC (full-width letters), casefold, trim, inner whitespace
    ("eq/fullwidth", {"name": "violin", "kind": "violin"}, instrument("Ｖｉｏｌｉｎ"), {"name": 1, "kind": 1}),
    ("eq/spaces", {"name": "  Electric   guitar "}, instrument(" ELECTRIC \n\t guitar  ", "guitar"), {"name": 1}),
    ("eq/expected-fullwidth", {"name": "Ｄｒｕｍ"}, instrument("drum", "drum"), {"name": 1}),
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
    ("contains/all-hit", {"blurb": {"contains_all": ["violin", "ｂｏｗ"]}}, instrument(blurb="A VIOLIN  and its Bow."),
     {"blurb": 1}),
    ("contains/all-miss", {"blurb": {"contains_all": ["violin", "bow"]}}, instrument(blurb="A violin."), {"blurb": 0}),
    ("contains/any-hit", {"blurb": {"contains_any": ["fiddle", "violin"]}}, instrument(blurb="Old FIDDLE"),
     {"blurb": 1}),
    ("contains/any-miss", {"blurb": {"contains_any": ["fiddle", "violin"]}}, instrument(blurb="a drum"), {"blurb": 0}),
    # regex: IGNORECASE, on the raw value (no NFKC, no whitespace collapsing)
    ("regex/ignorecase", {"name": {"regex": "^viol(in|a)$"}}, instrument("VIOLIN"), {"name": 1}),
    ("regex/raw-fullwidth", {"name": {"regex": "^violin$"}}, instrument("Ｖｉｏｌｉｎ"), {"name": 0}),
    ("regex/raw-spaces", {"blurb": {"regex": "a {2}b"}}, instrument(blurb="a  b"), {"blurb": 1}),
    # similar_to: the boundary is inclusive
    ("similar/at-min", {"blurb": {"similar_to": REFERENCE, "min": NEAR_SIMILARITY}}, instrument(blurb=NEAR),
     {"blurb": 1}),
    ("similar/above-min", {"blurb": {"similar_to": REFERENCE, "min": round(NEAR_SIMILARITY + 0.0001, 4)}},
     instrument(blurb=NEAR), {"blurb": 0}),
    ("similar/default-min", {"blurb": {"similar_to": REFERENCE}}, instrument(blurb="A Wooden  VIOLIN with a bow"),
     {"blurb": 1}),
    # max_len
    ("maxlen/at", {"blurb": {"max_len": 10}}, instrument(blurb="0123456789"), {"blurb": 1}),
    ("maxlen/over", {"blurb": {"max_len": 10}}, instrument(blurb="0123456789X"), {"blurb": 0}),
    # a list: every check must pass
    ("list/pass", {"blurb": [{"contains_any": ["violin"]}, {"max_len": 20}]}, instrument(blurb="violin"),
     {"blurb": 1}),
    ("list/one-fails", {"blurb": [{"contains_any": ["violin"]}, {"max_len": 20}]}, instrument(blurb="violin " * 5),
     {"blurb": 0}),
    # an extraction that failed: 0 on every expected field, with its error
    ("zz/failed", {"name": "violin", "kind": "violin", "maker": None},
     {"__error__": {"type": "refusal", "message": "no"}}, {"name": 0, "kind": 0, "maker": 0}),
]


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


def test_xdist_gives_the_same_scores(pytester: pytest.Pytester) -> None:
    """The same project serially and with -n 2: identical summary and per-case fields."""
    project = _project(pytester)
    serial = project.run("-m", "eval", json_name="serial.json")
    parallel = project.run("-m", "eval", "-n", "2", json_name="parallel.json")
    assert serial.ret == parallel.ret == 0, parallel.text

    def without_timing(summary: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in summary.items() if k not in ("duration_s", "latency_ms")}

    assert without_timing(serial.json["summary"]) == without_timing(parallel.json["summary"])
    assert [(c["id"], c["fields"], c["error"]) for c in serial.json["cases"]] == [
        (c["id"], c["fields"], c["error"]) for c in parallel.json["cases"]
    ]
