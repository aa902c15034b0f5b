"""Small text formatters shared by the HTML, Markdown and pytest-html renderers."""

from __future__ import annotations

import json
from typing import Any

MINUS = "\u2212"


def pct(value: object) -> str:
    """Format an accuracy in [0, 1] as a percentage with one decimal, or an en dash."""
    if not isinstance(value, int | float):
        return "\u2013"
    return f"{value * 100:.1f}%"


def points(delta: object, minus: str = MINUS) -> str:
    """Format an accuracy delta in [-1, 1] as signed percentage points."""
    if not isinstance(delta, int | float):
        return "\u2013"
    pts = delta * 100
    if abs(pts) < 0.05:
        return "0.0"
    sign = "+" if pts > 0 else minus
    return f"{sign}{abs(pts):.1f}"


def delta_class(delta: object) -> str:
    """Return the CSS class that colours a delta: down, up or flat."""
    if not isinstance(delta, int | float) or abs(delta) < 0.0005:
        return "flat"
    return "down" if delta < 0 else "up"


def p_value(value: object) -> str:
    """Format a p-value compactly (three decimals, or a bound below 0.001)."""
    if not isinstance(value, int | float):
        return "\u2013"
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}"


def significant(value: object, alpha: float = 0.05) -> bool:
    """Tell whether a p-value is below the significance level."""
    return isinstance(value, int | float) and value < alpha


def p_short(value: object, alpha: float = 0.05) -> str:
    """Format a p-value for a sentence: up to three decimals, more when rounding would reach alpha."""
    if not isinstance(value, int | float):
        return "\u2013"
    if value < 0.001:
        return "<0.001"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    if value > alpha >= float(text):
        text = f"{value:.4g}"
    return text


def alpha(value: object) -> str:
    """Format a significance level without trailing zeros (0.05, 0.1)."""
    if not isinstance(value, int | float):
        return "\u2013"
    return f"{value:g}"


def share_points(value: object) -> str:
    """Format an unsigned accuracy share in [0, 1] (a tolerance) as points with one decimal."""
    if not isinstance(value, int | float):
        return "\u2013"
    return f"{value * 100:.1f}"


def interval(low: object, high: object) -> str:
    """Format a 95% interval as a percentage range, or an en dash when absent."""
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return "\u2013"
    return f"{low * 100:.1f}\u2013{high * 100:.1f}%"


def value_text(value: Any) -> str:
    """Render an actual value (string, None or any JSON value) as plain text."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def spec_text(spec: Any) -> str:
    """Render a check spec from a case file (plain value, null, dict or list) as plain text."""
    if spec is None:
        return "null"
    if isinstance(spec, list):
        return " & ".join(spec_text(item) for item in spec)
    if isinstance(spec, dict):
        parts = []
        for key, arg in spec.items():
            shown = ", ".join(value_text(i) for i in arg) if isinstance(arg, list) else value_text(arg)
            parts.append(f"{key}: {shown}")
        return "; ".join(parts)
    return value_text(spec)


def is_plain(spec: Any) -> bool:
    """Tell whether an expected spec is a plain scalar value (equality check)."""
    return isinstance(spec, str | int | float | bool) and not isinstance(spec, bool)


def tokens(count: object) -> str:
    """Format a token count with thousands separators."""
    if not isinstance(count, int | float):
        return "\u2013"
    return f"{int(count):,}"


def cost(usd: object) -> str:
    """Format an estimated cost in US dollars, or say it is unknown."""
    if not isinstance(usd, int | float):
        return "n/a"
    if usd < 1:
        return f"${usd:.4f}"
    return f"${usd:.2f}"


def short_sha(sha: object) -> str:
    """Shorten a git sha to 8 characters, or say it is unknown."""
    if not isinstance(sha, str) or not sha:
        return "unknown"
    return sha[:8]
