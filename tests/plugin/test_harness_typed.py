"""Whole eval runs with a typed output model: defaults by field type, tolerance, list checks, nested paths."""

from __future__ import annotations

import pytest

from tests.plugin.harness_support import Run
from tests.plugin.typed_support import TypedProject, invoice

HITS_YAML = """\
  total: 101
  item_count: 3.0
  issued: 2024-03-05
  status: paid
  tags: {unordered: [bow, violin]}
  flags: {contains_any: [fragile]}
  line_items[0].name: bow
  line_items[*].price: {each: {approx: 50, abs: 31}}
  line_items[*].qty: {equals: [1, 2.0]}
  line_items: {length: 2}
  shop.city: paris
  shop.country: null
  note: null
"""


def _checks(run: Run, case_id: str, field: str) -> list[tuple[str, bool, str]]:
    fields = run.case(case_id)["fields"]
    return [(c["check"], c["passed"], c["detail"]) for c in fields[field]["checks"]]


def test_values_compare_by_the_fields_type(pytester: pytest.Pytester) -> None:
    """101 == 101.0, 3.0 == 3, an unquoted YAML date, lists in any order, nested paths: all pass."""
    project = TypedProject(pytester)
    project.write_raw_case("inv/hits", HITS_YAML, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    scores = run.scores("inv/hits")
    assert scores == {
        "total": 1,
        "item_count": 1,
        "issued": 1,
        "status": 1,
        "tags": 1,
        "flags": 1,
        "line_items[0].name": 1,
        "line_items[*].price": 1,
        "line_items[*].qty": 1,
        "line_items": 1,
        "shop.city": 1,
        "shop.country": 1,
        "note": 1,
    }, run.case("inv/hits")["fields"]
    # The field name in results is the path as written; the value is what the path holds.
    prices = run.case("inv/hits")["fields"]["line_items[*].price"]
    assert prices["actual"] == [20.5, 80.5]
    assert prices["expected"] == {"each": {"approx": 50, "abs": 31}}
    assert _checks(run, "inv/hits", "total") == [("equals", True, "101.0 equals 101 as a number")]
    assert _checks(run, "inv/hits", "issued") == [("equals", True, "'2024-03-05' is 2024-03-05 as a date")]
    # The unquoted date travels as plain JSON text in the results and the expectations hash.
    assert run.case("inv/hits")["fields"]["issued"]["expected"] == "2024-03-05"
    assert set(run.json["summary"]["fields"]) == set(scores)


def test_misses_fail_with_the_reason(pytester: pytest.Pytester) -> None:
    """Tolerance exceeded, a missing item, list checks on the wrong thing: 0 with a reason saying why."""
    project = TypedProject(pytester)
    expected = {
        "total": {"approx": 100, "abs": 0.5},
        "item_count": 4,
        "line_items[3].name": None,
        "line_items[2].price": 80.5,
        "tags": {"max_len": 50},
        "tags[0]": {"contains_any": ["vio"]},
        "flags": {"contains_any": ["gift"]},
        "line_items[*].name": {"equals": ["Case", "Bow"]},
        "shop.city": {"any_of": ["London", "Berlin"]},
    }
    project.add("inv/misses", expected, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 0, run.text
    assert run.scores("inv/misses") == {
        "total": 0,
        "item_count": 0,
        "line_items[3].name": 1,
        "line_items[2].price": 0,
        "tags": 0,
        "tags[0]": 1,
        "flags": 0,
        "line_items[*].name": 0,
        "shop.city": 0,
    }
    assert _checks(run, "inv/misses", "total") == [("approx", False, "101.0 is 1.0 away from 100, more than 0.5")]
    assert _checks(run, "inv/misses", "item_count") == [("equals", False, "expected 4, got 3")]
    missing = "line_items has 2 items; line_items[2] does not exist"
    assert _checks(run, "inv/misses", "line_items[2].price") == [
        ("equals", False, f"{missing}: expected the number 80.5, got null, not a number")
    ]
    assert _checks(run, "inv/misses", "line_items[3].name")[0][2].startswith("line_items has 2 items; line_items[3]")
    assert _checks(run, "inv/misses", "tags") == [
        ("max_len", False, "max_len applies to text, got a list of 2 items; use max_items for lists")
    ]
    # On a list, needles are items: 'vio' is in the text of tags[0], not an item of tags.
    assert _checks(run, "inv/misses", "tags[0]") == [("contains_any", True, "found ['vio'] in the text")]
    assert _checks(run, "inv/misses", "flags") == [("contains_any", False, "none of ['gift'] found among the items")]
    assert _checks(run, "inv/misses", "line_items[*].name") == [
        ("equals", False, "item [0]: expected 'Case', got 'Bow'")
    ]


BAD_CASES = {
    "list_on_list": ("  tags: [violin, bow]\n", "field 'tags': the field is a list", "{unordered: [...]}"),
    "unknown_nested": (
        "  shop.citty: Paris\n",
        "field 'shop.citty': unknown field 'citty' in shop; fields there: city, country",
        "",
    ),
    "unknown_top": ("  totl: 1\n", "unknown field 'totl'; fields: total, item_count, issued", ""),
    "literal_in_each": ("  flags: {each: {any_of: [fragile, broken]}}\n", "field 'flags'", "'broken' is not allowed"),
    "literal_in_unordered": ("  flags: {unordered: [gift, broken]}\n", "field 'flags'", "'broken' at [1]"),
    "literal_nested": ("  status: {any_of: [paid, refunded]}\n", "field 'status'", "'refunded' is not allowed"),
    "bool_number": ("  total: true\n", "field 'total': value True is not allowed", "a bool is not a number"),
    "bad_approx": ("  total: {approx: lots}\n", "field 'total': approx needs a number", ""),
    "bad_date": ("  issued: 2024-02-30\n", "bad YAML: a date that does not exist", "day is out of range"),
    "bad_quoted_date": ("  issued: '2024-02-30'\n", "field 'issued': value '2024-02-30' is not allowed", ""),
    "bad_path": ("  line_items[-1].name: Bow\n", "field 'line_items[-1].name': field path", "is malformed"),
    "index_on_model": ("  shop[0]: Paris\n", "field 'shop[0]': shop is not a list", ""),
}


def test_malformed_typed_cases_are_collection_errors_naming_file_and_field(pytester: pytest.Pytester) -> None:
    """Each: a one-line collection error naming the file, the field path and the problem."""
    project = TypedProject(pytester)
    project.add("good", {"total": 101}, invoice())
    for name, (text, _, _) in BAD_CASES.items():
        project.write_raw_case(name, text, invoice())
    run = project.run("-m", "eval")
    assert run.ret == 1
    assert run.json["verdict"] == "error"
    output = run.text
    for name, (_, first, second) in BAD_CASES.items():
        lines = [line for line in output.splitlines() if f"cases/{name}.yaml" in line and first in line]
        assert lines and second in lines[0], f"no collection error for cases/{name}.yaml with {first!r}:\n{output}"
    assert len([e for e in run.json["harness_errors"] if ".yaml: " in e]) == len(BAD_CASES)
    assert "Traceback" not in output
