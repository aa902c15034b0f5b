"""The `expected:` block of a promoted case, built from the corrected listing values."""

from __future__ import annotations

import re
from typing import Any

from extractor.schema import Color, Condition
from pytest_listingeval import normalise

TITLE_MIN_SIMILARITY = 0.6
DESCRIPTION_MIN_SIMILARITY = 0.5
DESCRIPTION_MAX_LEN = 600
MAX_KEY_WORDS = 4
_WORD = re.compile(r"[^\W\d_]{3,}")
# Words that say nothing about what the item is; colours and conditions have their own fields.
_STOP = frozenset(
    {"the", "and", "with", "for", "from", "this", "that", "set", "pair", "item", "items", "piece", "pieces"}
    | {"old", "new", "used", "vintage", "great", "good", "nice", "small", "large", "big", "mini", "size", "very"}
)
_FIELD_WORDS = frozenset(c.value for c in Color) | frozenset(c.value for c in Condition) | {"gray", "colour", "color"}
_PLAIN = ("category", "color", "brand", "condition")


def key_words(title: str, description: str) -> list[str]:
    """Title words naming the item (no stop words, colours or conditions) that the description also uses."""
    body = normalise(description)
    found: list[str] = []
    for word in _WORD.findall(normalise(title)):
        if word in _STOP or word in _FIELD_WORDS or word in found or word not in body:
            continue
        found.append(word)
    return found[:MAX_KEY_WORDS]


def expected_checks(values: dict[str, Any]) -> dict[str, Any]:
    """Checks for each known field: plain values for enums and brand, fuzzy checks for free text."""
    expected: dict[str, Any] = {}
    if "title" in values:
        expected["title"] = {"similar_to": values["title"], "min": TITLE_MIN_SIMILARITY}
    if "description" in values:
        expected["description"] = _description(str(values["description"]), str(values.get("title") or ""))
    for name in _PLAIN:
        if name in values:
            value = values[name]
            expected[name] = None if value is None or (isinstance(value, str) and not value.strip()) else value
    return expected


def _description(description: str, title: str) -> Any:
    words = key_words(title, description)
    check: dict[str, Any] = (
        {"contains_any": words} if words else {"similar_to": description, "min": DESCRIPTION_MIN_SIMILARITY}
    )
    if len(description) <= DESCRIPTION_MAX_LEN:
        return [check, {"max_len": DESCRIPTION_MAX_LEN}]
    return check
