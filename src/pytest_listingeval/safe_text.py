"""Untrusted text (model output, names from documents) made safe to print on a terminal."""

from __future__ import annotations

import re

# Terminal escape sequences (7-bit and 8-bit CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# Whitespace controls become a space; other C0/C1 controls and bidi overrides are dropped.
_CONTROLS = {c: " " for c in (9, 10, 11, 12, 13, 0x2028, 0x2029)} | {
    c: None
    for c in (*range(32), *range(127, 160), 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    if c not in (9, 10, 11, 12, 13)
}


def terminal_safe(value: object) -> str:
    """The text without terminal escape sequences or control characters."""
    return _ESCAPES.sub("", str(value)).translate(_CONTROLS)
