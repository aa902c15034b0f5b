"""An inline SVG of accuracy over time buckets with 95% intervals, one series per ground-truth source."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from extractor.service.review.stats import Tally

WIDTH = 240
HEIGHT = 90
# Where the gridlines are drawn, as accuracies.
GRID = (0.0, 0.5, 1.0)
COLOURS = ("#6c8ebf", "#f0ad4e")
# Room on the left for the gridlines' labels.
AXIS = 24


def accuracy_chart(series: Sequence[tuple[str, Sequence[Tally]]], label: str) -> Markup:
    """One dot per bucket at its accuracy with a whisker over its interval; a bucket without verdicts draws nothing."""
    slots = max((len(tallies) for _, tallies in series), default=1) or 1
    slot = (WIDTH - AXIS) / slots
    parts = [
        f'<line x1="{AXIS}" y1="{_y(level):.1f}" x2="{WIDTH}" y2="{_y(level):.1f}" stroke="#ddd"/>'
        f'<text x="0" y="{_y(level) + 4:.1f}" font-size="10" fill="#888">{level:.0%}</text>'
        for level in GRID
    ]
    for offset, ((name, tallies), colour) in enumerate(zip(series, COLOURS, strict=False)):
        for i, tally in enumerate(tallies):
            if tally.accuracy is None or tally.interval is None:
                continue
            x = AXIS + i * slot + slot * (offset + 1) / (len(series) + 1)
            low, high = tally.interval
            parts.append(
                f'<line x1="{x:.1f}" y1="{_y(low):.1f}" x2="{x:.1f}" y2="{_y(high):.1f}" stroke="{colour}"/>'
                f'<circle cx="{x:.1f}" cy="{_y(tally.accuracy):.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(name)}: {tally.accuracy:.0%} of {tally.n} [{low:.0%}, {high:.0%}]</title></circle>"
            )
    return Markup(
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 -6 {WIDTH} {HEIGHT + 12}" '
        f'width="{WIDTH}" height="{HEIGHT + 12}" class="chart">{"".join(parts)}</svg>'
    )


def _y(share: float) -> float:
    return HEIGHT * (1 - share)
