"""Case ids for imported items: the source's names made safe as file names, one id per case."""

from __future__ import annotations

import re
import unicodedata

from pytest_listingeval.importers.model import Imported

MAX_ID_CHARS = 80
# No dots: a case's own files are named `<id>.<input>.<suffix>`, so no id can take another's file name.
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def slug(text: str) -> str:
    """Lower-case ASCII letters, digits, '_' and '-' (runs of anything else become one '-'); may be empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"-{2,}", "-", _UNSAFE.sub("-", ascii_text.lower())).strip("-_")
    return cleaned[:MAX_ID_CHARS].rstrip("-_")


def stem_of(file_stem: str) -> str:
    """The prefix of `<stem>-<n>` ids: the source file's name as a slug."""
    return slug(file_stem) or "item"


def assign_ids(imported: Imported) -> list[str]:
    """One id per draft, in order: its name as a slug (else `<stem>-<n>`), with `-2`, `-3` on repeats."""
    taken: set[str] = set()
    ids = []
    for draft in imported.drafts:
        base = (slug(draft.name) if draft.name else "") or draft.fallback
        if draft.name and base == draft.fallback:
            imported.unmapped.add("name with nothing usable in a file name (id <stem>-<n> instead)", draft.label)
        case_id, number = base, 2
        while case_id in taken:
            case_id, number = f"{base}-{number}", number + 1
        if case_id != base:
            imported.unmapped.add("repeated name (written with a -2, -3... suffix)", case_id)
        taken.add(case_id)
        ids.append(case_id)
    return ids
