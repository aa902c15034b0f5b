"""The output of a content-level fault: refused, cut short, not JSON, or off the schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_listingeval.fake_openai.answers import Answer, answer_text
from pytest_listingeval.fake_openai.faults import Fault
from pytest_listingeval.fake_openai.recorded import RecordedRequest
from pytest_listingeval.fake_openai.shapes import Output

# What an answer cut short spends when the request sets no output budget.
DEFAULT_TOKEN_BUDGET = 16
# A value no enum, const, number, boolean, object or array property accepts.
OFF_SCHEMA = "__off_schema__"
# Recursive schemas (a definition referring to itself) stop being followed here.
_MAX_DEPTH = 32


def fault_output(fault: Fault, request: RecordedRequest, normal: Answer | None, budget: int | None) -> Output:
    """The output for a refusal, incomplete, invalid_json or schema_invalid fault.

    `normal` is the answer the request would otherwise get: an incomplete answer is its JSON
    cut in half, a schema_invalid one is it broken against the request's schema.
    """
    if fault.kind == "refusal":
        return Output(None, refusal=fault.message)
    if fault.kind == "incomplete":
        full = answer_text(normal) if isinstance(normal, Mapping | str) else "{}"
        reason = fault.code or "max_output_tokens"
        return Output(full[: len(full) // 2], cut_short=reason, output_tokens=budget or DEFAULT_TOKEN_BUDGET)
    if fault.kind == "invalid_json":
        return Output(fault.message)
    if fault.kind == "schema_invalid":
        if fault.body:
            return Output(fault.body.decode())
        base = dict(normal) if isinstance(normal, Mapping) else {}
        return Output(json.dumps(break_schema(base, request.json_schema), ensure_ascii=False))
    raise ValueError(f"fault {fault.kind!r} has no output")


def break_schema(answer: dict[str, Any], schema: Mapping[str, Any] | None) -> Any:
    """`answer` made invalid against `schema`, changing as little as a plausible model would.

    Every property that rejects an arbitrary string gets `OFF_SCHEMA`; with no such property
    the required ones are left out; with neither (or no schema) the object is wrapped in a list.
    """
    properties = schema.get("properties") if schema else None
    if isinstance(properties, dict) and schema is not None:
        rejecting = [name for name, prop in properties.items() if not _accepts_any_string(prop, schema)]
        if rejecting:
            return {**answer, **dict.fromkeys(rejecting, OFF_SCHEMA)}
    required = schema.get("required") if schema else None
    if isinstance(required, list) and required:
        return {key: value for key, value in answer.items() if key not in required}
    return [answer]


def _accepts_any_string(prop: Any, root: Mapping[str, Any], depth: int = 0) -> bool:
    """True unless the property schema certainly rejects the string `OFF_SCHEMA`."""
    prop = _resolve(prop, root)
    if not isinstance(prop, dict) or depth > _MAX_DEPTH:
        return True
    if "enum" in prop or "const" in prop:
        return False
    if "allOf" in prop:
        return all(_accepts_any_string(branch, root, depth + 1) for branch in prop["allOf"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return any(_accepts_any_string(branch, root, depth + 1) for branch in prop[key])
    kind = prop.get("type")
    if isinstance(kind, str):
        return kind == "string"
    if isinstance(kind, list):
        return "string" in kind
    return True


def _resolve(prop: Any, root: Mapping[str, Any]) -> Any:
    """Follow a local `#/$defs/...` or `#/definitions/...` reference; leave anything else as is."""
    ref = prop.get("$ref") if isinstance(prop, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return prop
    target: Any = root
    for step in ref[2:].split("/"):
        target = target.get(step) if isinstance(target, dict) else None
    return target if target is not None else {}
