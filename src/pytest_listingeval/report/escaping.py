"""Make untrusted text (model output, case ids, messages) inert in GitHub-flavoured Markdown."""

from __future__ import annotations

import re

CELL_LIMIT = 80
# Invisible, and not a word character: GitHub no longer sees a mention, a link or an issue number.
JOINER = "\u200d"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MARKUP = {
    "\\": "\\\\",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "`": "\\`",
    "*": "\\*",
    "[": "\\[",
    "]": "\\]",
    "~": "\\~",
    "$": "\\$",
}
_MARKUP_RE = re.compile("|".join(re.escape(c) for c in _MARKUP))
# Autolinks: a scheme before ":" (http:, mailto:, xmpp: ...), "www." and "://"; issue references.
_SCHEME = re.compile(r"(?i)(?<![a-z0-9])(https?|ftps?|mailto|xmpp|www)(?=[:.])")
_ISSUE = re.compile(r"(?i)(#|\bgh-)(?=\d)")
# An underscore between two letters or digits cannot emphasise (snake_case ids stay readable); others can.
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# What opens a heading, a list, a quote or a thematic break when it starts a line or a list item.
_LEADING_BLOCK = re.compile(r"^(?:[#+=-]|\d{1,9}(?=[.)]))")


def defuse(text: str) -> str:
    """Break @mentions, autolinks and issue references with an invisible joiner."""
    text = text.replace("@", "@" + JOINER).replace("://", ":" + JOINER + "//")
    text = _SCHEME.sub(lambda m: m.group(1) + JOINER, text)
    return _ISSUE.sub(lambda m: m.group(1) + JOINER, text)


def escape_inline(value: object) -> str:
    """Neutralise what GitHub would read as HTML, code or link markup, mentions or autolinks in running text."""
    text = _CONTROL.sub(" ", str(value))
    text = " ".join(text.split())
    text = _MARKUP_RE.sub(lambda m: _MARKUP[m.group(0)], text)
    text = _EMPHASIS_UNDERSCORE.sub(r"\\_", text)
    return defuse(_LEADING_BLOCK.sub(_escape_block_marker, text))


def _escape_block_marker(match: re.Match[str]) -> str:
    marker = match.group(0)
    # "12." opens an ordered list: the escape goes before its dot; "#", "-", "+", "=" are escaped themselves.
    return marker + "\\" if marker.isdigit() else "\\" + marker


def escape_cell(value: object, limit: int = CELL_LIMIT) -> str:
    """Make text safe inside a Markdown table cell: escape pipes, fold newlines, cut long text."""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return escape_inline(text).replace("|", "\\|")
