"""pydantic-evals evaluators, as serialised in a dataset file, turned into checks where one fits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_listingeval.importers.expected import add_check, expected_from

# The parameters of the evaluators that map, in pydantic-evals' order (a lone argument is the first).
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "EqualsExpected": ("evaluation_name",),
    "Equals": ("value", "evaluation_name"),
    "Contains": ("value", "case_sensitive", "as_strings", "evaluation_name"),
    "LLMJudge": ("rubric", "model", "include_input", "include_expected_output", "model_settings", "score", "assertion"),
}
_REQUIRED = {"Equals": "value", "Contains": "value", "LLMJudge": "rubric"}


@dataclass(frozen=True)
class EvaluatorCall:
    """An evaluator's name and its arguments as pydantic-evals would bind them."""

    name: str
    arguments: dict[str, Any]


class EvaluatorNotMapped(ValueError):
    """An evaluator with no listingeval counterpart; the message is the kind, for the report."""


def parse_evaluator(spec: Any) -> tuple[str, list[Any], dict[str, Any]]:
    """Name, positional and keyword arguments of one serialised evaluator.

    The forms pydantic-evals writes: `Name`, `{Name: argument}`, `{Name: {keyword: value, ...}}`
    (a mapping with string keys is keywords) and `{call: Name, args: [...], kwargs: {...}}`.
    """
    if isinstance(spec, str) and spec:
        return spec, [], {}
    if isinstance(spec, Mapping) and isinstance(spec.get("call"), str) and set(spec) <= {"call", "args", "kwargs"}:
        args, kwargs = spec.get("args") or [], spec.get("kwargs") or {}
        if isinstance(args, list) and isinstance(kwargs, Mapping):
            return spec["call"], list(args), dict(kwargs)
    if isinstance(spec, Mapping) and len(spec) == 1:
        name, value = next(iter(spec.items()))
        if isinstance(name, str):
            if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
                return name, [], dict(value)
            return name, [value], {}
    raise EvaluatorNotMapped(f"evaluator in a form pydantic-evals does not write: {spec!r}"[:120])


def bind(name: str, args: list[Any], kwargs: dict[str, Any]) -> EvaluatorCall:
    """Match the arguments to a mappable evaluator's parameters, or raise EvaluatorNotMapped."""
    parameters = _PARAMETERS.get(name)
    if parameters is None:
        raise EvaluatorNotMapped(f"evaluator {name} (no listingeval check does what it does)")
    if len(args) > len(parameters):
        raise EvaluatorNotMapped(f"evaluator {name} with more arguments than it takes")
    arguments = dict(zip(parameters, args, strict=False))
    unknown = [k for k in kwargs if k not in parameters or k in arguments]
    if unknown:
        raise EvaluatorNotMapped(f"evaluator {name} with arguments it does not take ({', '.join(unknown)})")
    arguments.update(kwargs)
    required = _REQUIRED.get(name)
    if required is not None and required not in arguments:
        raise EvaluatorNotMapped(f"evaluator {name} without its {required!r}")
    return EvaluatorCall(name, arguments)


def apply_evaluator(call: EvaluatorCall, expected: dict[str, Any], output_field: str) -> list[str]:
    """Add the evaluator's checks to `expected`; return the kinds of what it asks that they cannot say."""
    arguments = call.arguments
    if call.name == "Equals":
        for field, spec in expected_from(arguments["value"], output_field).items():
            add_check(expected, field, spec)
        return []
    if call.name == "Contains":
        return _contains(arguments, expected, output_field)
    if call.name == "LLMJudge":
        return _judge(arguments, expected, output_field)
    return []  # EqualsExpected: the expected output is already checked field by field


def _contains(arguments: dict[str, Any], expected: dict[str, Any], output_field: str) -> list[str]:
    value, as_strings = arguments["value"], bool(arguments.get("as_strings"))
    if isinstance(value, Mapping) and not as_strings:
        for field, spec in expected_from(value, output_field).items():
            add_check(expected, field, spec)
        return []
    if isinstance(value, list | tuple | Mapping):
        return ["Contains with a list or mapping value"]
    needle = str(value) if as_strings else value
    add_check(expected, output_field, {"contains_all": [needle]})
    if isinstance(needle, str) and arguments.get("case_sensitive", True):
        return ["Contains is case-sensitive (contains_all ignores case)"]
    return []


def _judge(arguments: dict[str, Any], expected: dict[str, Any], output_field: str) -> list[str]:
    rubric = arguments["rubric"]
    if not isinstance(rubric, str) or not rubric.strip():
        return ["LLMJudge without a rubric text"]
    add_check(expected, output_field, {"judge": rubric})
    return [f"LLMJudge {name} (the task's judge model decides)" for name in arguments if name != "rubric"]


def map_evaluator(spec: Any, expected: dict[str, Any], output_field: str) -> list[str]:
    """Add one serialised evaluator's checks to `expected`; return the kinds of what did not map."""
    try:
        call = bind(*parse_evaluator(spec))
    except EvaluatorNotMapped as exc:
        return [str(exc)]
    return apply_evaluator(call, expected, output_field)
