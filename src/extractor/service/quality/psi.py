"""Comparing two distributions over the same bins: population stability index, chi-square, top shifts.

Smoothing: a bin empty on both sides says nothing and is left out; every other bin gets half a
count added on each side before shares are taken, so a value seen on one side only adds a large
but finite term instead of an infinite one.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from extractor.service.rollout.sequential import chi2_sf

SMOOTHING = 0.5
QUANTILE_BINS = 10


@dataclass(frozen=True)
class Shift:
    """One bin: its share on each side (unsmoothed) and its term of the stability index."""

    value: str
    reference: float
    current: float
    contribution: float


@dataclass(frozen=True)
class Comparison:
    """How far the current distribution moved from the reference."""

    psi: float
    # Chi-square test of homogeneity on the counts; None with fewer than two bins.
    p_value: float | None
    # What an unchanged distribution gives on average from sampling alone: (bins - 1) (1/n_ref + 1/n_cur).
    noise: float
    # Every bin, largest term first.
    shifts: tuple[Shift, ...]


def compare(reference: Mapping[str, float], current: Mapping[str, float]) -> Comparison | None:
    """The stability index of `current` against `reference` (counts per bin); None when a side is empty."""
    n_ref = math.fsum(reference.values())
    n_cur = math.fsum(current.values())
    if n_ref <= 0 or n_cur <= 0:
        return None
    bins = [b for b in dict.fromkeys([*reference, *current]) if reference.get(b, 0) > 0 or current.get(b, 0) > 0]
    ref_total = n_ref + SMOOTHING * len(bins)
    cur_total = n_cur + SMOOTHING * len(bins)
    shifts = []
    for name in bins:
        before, after = reference.get(name, 0.0), current.get(name, 0.0)
        p = (before + SMOOTHING) / ref_total
        q = (after + SMOOTHING) / cur_total
        shifts.append(Shift(name, before / n_ref, after / n_cur, (q - p) * math.log(q / p)))
    shifts.sort(key=lambda s: -s.contribution)
    return Comparison(
        psi=math.fsum(s.contribution for s in shifts),
        p_value=_homogeneity_p(reference, current, bins, n_ref, n_cur),
        noise=(len(bins) - 1) * (1 / n_ref + 1 / n_cur),
        shifts=tuple(shifts),
    )


def _homogeneity_p(
    reference: Mapping[str, float], current: Mapping[str, float], bins: Sequence[str], n_ref: float, n_cur: float
) -> float | None:
    """p-value of the chi-square test that both sides come from one distribution."""
    if len(bins) < 2:
        return None
    total = n_ref + n_cur
    statistic = 0.0
    for name in bins:
        column = reference.get(name, 0.0) + current.get(name, 0.0)
        for observed, row in ((reference.get(name, 0.0), n_ref), (current.get(name, 0.0), n_cur)):
            expected = row * column / total
            statistic += (observed - expected) ** 2 / expected
    return chi2_sf(statistic, len(bins) - 1)


def quantile_edges(values: Sequence[float], bins: int = QUANTILE_BINS) -> tuple[float, ...]:
    """Upper bounds of bins holding about equal shares of `values` (repeated values give fewer bins)."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return ()
    return tuple(sorted({ordered[math.ceil(i * n / bins) - 1] for i in range(1, bins)} | {ordered[-1]}))


def histogram(values: Sequence[float], edges: Sequence[float]) -> dict[str, float]:
    """Counts of `values` in the bins `edges` bound: (-inf, e1], (e1, e2], ..., (ek, +inf)."""
    labels = bin_labels(edges)
    counts = dict.fromkeys(labels, 0.0)
    for value in values:
        counts[labels[bisect.bisect_left(edges, value)]] += 1
    return counts


def bin_labels(edges: Sequence[float]) -> list[str]:
    """One readable label per bin of `edges`, with as many digits as it takes to keep them apart."""
    for digits in range(3, 18):
        shown = [_number(e, digits) for e in edges]
        if len(set(shown)) == len(shown):
            break
    middle = [f"({low}, {high}]" for low, high in itertools.pairwise(shown)]
    return [f"≤ {shown[0]}", *middle, f"> {shown[-1]}"]


def _number(value: float, digits: int) -> str:
    whole = len(str(int(abs(value))))
    return f"{value:.{max(digits, whole)}g}"
