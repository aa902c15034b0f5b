"""Small inline SVG charts built on the server (no front-end build, no script)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 360
HEIGHT = 80


def request_bars(series: Sequence[tuple[int, int]], label: str, noun: str = "requests") -> Markup:
    """Requests (or other `noun`) per time bucket; the failed part of each bar (error, empty, refusal) in red."""
    peak = max((total for total, _ in series), default=0) or 1
    slot = WIDTH / max(len(series), 1)
    bars = []
    for i, (total, bad) in enumerate(series):
        x = i * slot + 1
        height = HEIGHT * total / peak
        failed = HEIGHT * bad / peak
        bars.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - height:.1f}" width="{slot - 2:.1f}" '
            f'height="{height:.1f}" fill="#6c8ebf">'
            f"<title>{total} {escape(noun)}, {bad} failed</title></rect>"
        )
        if bad:
            bars.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - failed:.1f}" width="{slot - 2:.1f}" '
                f'height="{failed:.1f}" fill="#d9534f"/>'
            )
    return Markup(
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" class="chart">{"".join(bars)}</svg>'
    )


def rate_bars(rates: Sequence[tuple[str, float | None]], label: str) -> Markup:
    """Horizontal bars, one per named rate in [0, 1]; a missing rate draws no bar."""
    row = 18
    height = row * len(rates)
    parts = []
    for i, (name, rate) in enumerate(rates):
        y = i * row
        text = "-" if rate is None else f"{rate:.0%}"
        length = 0.0 if rate is None else 200 * rate
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="12">{escape(name)}</text>'
            f'<rect x="100" y="{y + 3}" width="{length:.1f}" height="12" fill="#f0ad4e"/>'
            f'<text x="{105 + length:.1f}" y="{y + 13}" font-size="12">{text}</text>'
        )
    return Markup(
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" class="chart">{"".join(parts)}</svg>'
    )
