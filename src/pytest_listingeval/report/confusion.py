"""Confusion matrix of an enum-like field: expected label versus actual label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


def confusion(cases: Iterable[CaseResult], field_name: str = "category") -> Confusion | None:
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
