"""An item's input fields as a case's `inputs:` and `image:`: plain values, decoded files, chat messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_listingeval.importers.media import MediaError, decode_data_url, is_data_url, is_remote_image
from pytest_listingeval.importers.model import Draft, Imported

REMOTE_IMAGE = "remote image URL (not fetched: no network)"
_TEXT_PARTS = frozenset({"text", "input_text"})
_IMAGE_PARTS = frozenset({"image_url", "input_image"})
_PROMPT_ROLES = frozenset({"system", "developer"})


def add_inputs(imported: Imported, draft: Draft, fields: Mapping[Any, Any], selected: tuple[str, ...]) -> None:
    """Map an item's fields (all, or the `selected` ones) into the draft; tally what cannot be carried over."""
    for name in selected:
        if name not in fields:
            imported.unmapped.add(f"--input-field {name!r} not in the item", draft.label)
    for key, value in fields.items():
        if selected and key not in selected:
            imported.unmapped.add(f"field {key!r} (not an --input-field)", draft.label)
            continue
        name = _input_name(str(key), draft)
        if name != key:
            imported.unmapped.add(f"input {key!r} renamed {name!r} (inputs are named by identifiers)", draft.label)
        _add_value(imported, draft, name, value)


def _add_value(imported: Imported, draft: Draft, name: str, value: Any) -> None:
    if _is_messages(value):
        _add_messages(imported, draft, name, value)
    elif isinstance(value, str) and (is_data_url(value) or is_remote_image(value)):
        _add_file(imported, draft, name, value)
    else:
        draft.inputs[name] = value


def _add_messages(imported: Imported, draft: Draft, name: str, messages: list[dict[str, Any]]) -> None:
    """The last user turn(s) as one text input and their images as files; the prompt and few-shot turns are left out."""
    last_answer = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    texts: list[str] = []
    images: list[Any] = []
    for index, message in enumerate(messages):
        role = str(message.get("role"))
        if role in _PROMPT_ROLES:
            imported.unmapped.add(f"{role} message (the prompt belongs to the task)", draft.label)
        elif role == "assistant" or (role == "user" and index < last_answer):
            imported.unmapped.add("few-shot turns (up to the last assistant message)", draft.label)
        elif role != "user":
            imported.unmapped.add(f"{role} message (only user turns become inputs)", draft.label)
        else:
            _read_parts(imported, draft, message.get("content"), texts, images)
    if any(text.strip() for text in texts):
        draft.inputs[name] = "\n\n".join(text for text in texts if text.strip())
    for number, url in enumerate(images, 1):
        if isinstance(url, str) and (is_data_url(url) or is_remote_image(url)):
            _add_file(imported, draft, f"{name}_image_{number}", url)
        else:
            imported.unmapped.add("message image that is neither a data URL nor an http(s) image URL", draft.label)


def _read_parts(imported: Imported, draft: Draft, content: Any, texts: list[str], images: list[Any]) -> None:
    """Collect a user message's text parts and image URLs."""
    for part in _parts(content):
        kind = part.get("type")
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in _IMAGE_PARTS:
            url = part.get("image_url")
            images.append(url.get("url") if isinstance(url, dict) else url)
        else:
            imported.unmapped.add(f"message part of type {kind!r}", draft.label)


def _add_file(imported: Imported, draft: Draft, name: str, url: str) -> None:
    if not is_data_url(url):
        imported.unmapped.add(REMOTE_IMAGE, draft.label)
        draft.source.setdefault("not_fetched", []).append(url)
        return
    try:
        draft.add_file(name, decode_data_url(url))
    except MediaError as exc:
        imported.unmapped.add(str(exc), draft.label)


def _parts(content: Any) -> list[dict[str, Any]]:
    """A message's content as typed parts (a plain string is one text part)."""
    items = content if isinstance(content, list) else [content]
    parts = []
    for item in items:
        if isinstance(item, str):
            parts.append({"type": "text", "text": item})
        elif isinstance(item, dict):
            parts.append(item)
    return parts


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _input_name(key: str, draft: Draft) -> str:
    """The key as an identifier (what `inputs:` names must be), not taken yet in the draft."""
    name = key if key.isidentifier() else re.sub(r"\W+", "_", key).strip("_")
    if not name.isidentifier():
        name = f"_{name}"
    base, number = name, 2
    while name in draft.inputs:
        name, number = f"{base}_{number}", number + 1
    return name
