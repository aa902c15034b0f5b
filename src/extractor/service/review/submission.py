"""What a reviewer sends: per-field verdicts checked against the Listing schema's types and enums."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter

from extractor.schema import Listing
from extractor.service.api.errors import ApiError
from extractor.service.extraction.corrections import FIELDS, normalise
from extractor.service.review.store import Verdict


class FieldInput(BaseModel):
    """One field: right or wrong, and (when wrong) the right value."""

    model_config = ConfigDict(extra="forbid")

    correct: StrictBool
    value: Any = None


class ReviewInput(BaseModel):
    """The body of `POST /v1/reviews`."""

    model_config = ConfigDict(extra="forbid")

    extraction_id: str = Field(min_length=1, max_length=32)
    annotator: str = Field(min_length=1, max_length=200)
    fields: dict[str, FieldInput] = Field(min_length=1)
    comment: str | None = Field(default=None, max_length=4000)


def bad_request(message: str) -> ApiError:
    """A 400 in the service's JSON error shape."""
    return ApiError(400, "bad_request", message)


def parse_review(raw: bytes) -> ReviewInput:
    """The JSON body as a ReviewInput, or a 400 naming the first problem."""
    try:
        return ReviewInput.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise bad_request(f"not a valid review: {where}: {first['msg']}") from exc


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    info = Listing.model_fields[name]
    hint: Any = Annotated[info.annotation, info]  # the field's type with its constraints (e.g. max_length)
    return TypeAdapter(hint)


def verdicts(review: ReviewInput, output: dict[str, Any]) -> dict[str, Verdict]:
    """Each judged field with its right value: the model's when right, the reviewer's (validated) when wrong."""
    judged: dict[str, Verdict] = {}
    for name, given in review.fields.items():
        if name not in FIELDS:
            raise bad_request(f"fields.{name}: unknown field; fields: {', '.join(FIELDS)}")
        if given.correct:
            judged[name] = Verdict(True, output.get(name))
            continue
        if "value" not in given.model_fields_set:
            raise bad_request(f"fields.{name}: a field marked wrong needs its right value")
        value = given.value
        if name == "brand" and isinstance(value, str) and not value.strip():
            value = None
        try:
            checked = _adapter(name).validate_python(value)
        except pydantic.ValidationError as exc:
            raise bad_request(f"fields.{name}: value {value!r} is not allowed: {exc.errors()[0]['msg']}") from exc
        right = _adapter(name).dump_python(checked, mode="json")
        if normalise(right) == normalise(output.get(name)):
            raise bad_request(f"fields.{name}: marked wrong, but the value is the model's own")
        judged[name] = Verdict(False, right)
    return judged


def from_form(form: dict[str, str]) -> ReviewInput:
    """A review from the plain HTML form: `<field>.right` is ticked when right, `<field>.value` holds the value."""
    fields: dict[str, Any] = {}
    for name in FIELDS:
        if f"{name}.right" in form:
            fields[name] = {"correct": True}
        elif f"{name}.value" in form:
            fields[name] = {"correct": False, "value": form[f"{name}.value"]}
    body = {
        "extraction_id": form.get("extraction_id", ""),
        "annotator": form.get("annotator", ""),
        "fields": fields,
        "comment": form.get("comment") or None,
    }
    try:
        return ReviewInput.model_validate(body)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "form"
        raise bad_request(f"not a valid review: {where}: {first['msg']}") from exc
