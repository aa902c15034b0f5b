"""Confusion matrix of an enum-like field: expected label versus actual label."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_listingeval.report import formatting as fmt
from pytest_listingeval.results import CaseResult


@dataclass(frozen=True)
class Confusion:
    """Expected-versus-actual counts for one enum-like field."""

    field: str
    expected_labels: tuple[str, ...]
    actual_labels: tuple[str, ...]
    counts: Mapping[tuple[str, str], int]
    total: int

    def count(self, expected: str, actual: str) -> int:
        """Return how many cases expected one label and got another."""
        return self.counts.get((expected, actual), 0)

    def row_total(self, expected: str) -> int:
        """Return how many cases expected this label."""
        return sum(n for (e, _), n in self.counts.items() if e == expected)

    def level(self, expected: str, actual: str) -> int:
        """Return a shading level 0-4 for a cell, relative to its row total."""
        count = self.count(expected, actual)
        total = self.row_total(expected)
        return 0 if not count or not total else max(1, round(4 * count / total))


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


def enum_fields(json_schema: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """The field names (or paths such as `address.country`, `items[*].kind`) whose schema is an enum."""
    return [name for name in names if _is_enum(_at_path(json_schema, name), json_schema)]


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """Follow a local `$ref` (`#/$defs/Name`) to the schema it names."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
    return node


def _without_null(node: Any, root: Mapping[str, Any]) -> Any:
    """The one non-null branch of an `anyOf` (an Optional field), else the node itself."""
    node = _resolve(node, root)
    if isinstance(node, Mapping) and isinstance(node.get("anyOf"), list):
        branches = [b for b in node["anyOf"] if not (isinstance(b, Mapping) and b.get("type") == "null")]
        if len(branches) == 1:
            return _resolve(branches[0], root)
    return node


def _at_path(json_schema: Mapping[str, Any], path: str) -> Any:
    node: Any = json_schema
    for name, index in _SEGMENT.findall(path):
        node = _without_null(node, json_schema)
        if not isinstance(node, Mapping):
            return None
        node = node.get("items") if index else (node.get("properties") or {}).get(name)
    return _without_null(node, json_schema)


def _is_enum(node: Any, root: Mapping[str, Any]) -> bool:
    if not isinstance(node, Mapping):
        return False
    if isinstance(node.get("enum"), list) or "const" in node:
        return True
    branches = node.get("anyOf") or node.get("oneOf")
    return isinstance(branches, list) and bool(branches) and all(_is_enum(_resolve(b, root), root) for b in branches)


def confusion(cases: Iterable[CaseResult], field_name: str) -> Confusion | None:
    """Count expected versus actual labels over cases whose expected value is plain."""
    counts: Counter[tuple[str, str]] = Counter()
    for case in cases:
        entry = case.fields.get(field_name)
        if entry is None or not fmt.is_plain(entry.expected):
            continue
        if case.error or case.harness_error is not None:
            shown = "(error)"
        elif entry.actual is None or entry.actual == "":
            shown = "(none)"
        else:
            shown = fmt.value_text(entry.actual)
        counts[(fmt.value_text(entry.expected), shown)] += 1
    if not counts:
        return None
    expected = sorted({e for e, _ in counts})
    actual = sorted({a for _, a in counts}, key=lambda a: (a.startswith("("), a))
    return Confusion(field_name, tuple(expected), tuple(actual), dict(counts), sum(counts.values()))
