"""The OpenAPI document at `/openapi.json`: what every route takes and every status it answers.

Routes that read their body through the bounded readers in `bodies.py` declare it with
`openapi_extra`, so FastAPI documents the body without reading it. Errors are documented with
the service's error model, and FastAPI's default 422 is dropped: validation errors answer 400.
Every text a request carries is documented without NUL, which the service refuses (`_refuse_nul`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Query
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from extractor.service.api.errors import ErrorResponse
from extractor.service.security.sessions import COOKIE

REF_TEMPLATE = "#/components/schemas/{model}"
BEARER = "bearerAuth"
SESSION = "sessionCookie"
SECURITY_SCHEMES: dict[str, Any] = {
    BEARER: {"type": "http", "scheme": "bearer", "description": "The admin token (scripts)."},
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "The signed session from `POST /login` (browsers; changes also need the CSRF token).",
    },
}
ERRORS: dict[int, str] = {
    400: "Bad request: a parameter, header or the body is invalid (validation errors included), "
    "text holds a NUL character, or the address carries `?token=`.",
    401: "The admin credentials are missing or wrong.",
    403: "Refused: a cross-site request, or a signed-in browser's change without its CSRF token.",
    404: "No such extraction.",
    408: "The body stalled between two chunks, or took too long in all; the connection is closed.",
    409: "The extraction has no listing to review.",
    413: "The body is over the size limit.",
    415: "The body's Content-Type is not one this route takes.",
    502: "The model call failed (error, timeout, refusal or empty listing); the row is stored and the "
    "error names its id, variant and status.",
    503: "The database is unavailable; try again shortly.",
}
ADMIN_OFF = "The admin endpoints are off (no admin token is set)."
# The 503 of a route behind the admin check, which also reads the database.
ADMIN_503 = {503: f"{ADMIN_OFF[:-1]}, or the database is unavailable."}
HTML = {"text/html": {"schema": {"type": "string"}}}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Text without NUL: `bodies.check_text` refuses a NUL in every text a request carries. It refuses a lone
# surrogate too, which no pattern says portably (ECMA-262 patterns match UTF-16 code units, pairs included).
NO_NUL = "^[^\\x00]*$"
# A value of any JSON type, so long as its strings and keys hold no NUL.
JSON_VALUE = "JsonValue"
_JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value whose strings and keys hold no NUL character.",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": REF_TEMPLATE.format(model=JSON_VALUE)}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": REF_TEMPLATE.format(model=JSON_VALUE)},
        },
    ],
}
# Models referred to outside FastAPI's knowledge (bodies read by the routes, the error model).
_MODELS: dict[str, type[BaseModel]] = {}


def error_responses(*codes: int, descriptions: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for `codes`, each answered as JSON with the error model.

    A route that reads a body (it answers 413) also answers 408 to a body that stalls: both come
    from `api/bodies.py`, so listing 413 brings 408 with it.
    """
    if 413 in codes and 408 not in codes:
        codes = tuple(sorted((*codes, 408)))
    texts = {**ERRORS, **(descriptions or {})}
    # The content is spelled out: with `model=`, FastAPI would give it the route's media type (HTML for pages).
    content = {"application/json": {"schema": {"$ref": _component(ErrorResponse)}}}
    return {code: {"description": texts[code], "content": content} for code in codes}


def redirect(description: str) -> dict[int | str, dict[str, Any]]:
    """A `responses=` entry for a 303 to another page."""
    location = {"description": "Where to go next.", "schema": {"type": "string"}}
    return {303: {"description": description, "headers": {"Location": location}}}


def admin(**extra: Any) -> dict[str, Any]:
    """`openapi_extra` for an admin route: the bearer token or a session cookie."""
    return {"security": [{BEARER: []}, {SESSION: []}], **extra}


def _component(model: type[BaseModel]) -> str:
    """A reference to `model`'s schema, which `build` adds to the components."""
    _MODELS[model.__name__] = model
    return REF_TEMPLATE.format(model=model.__name__)


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring a required JSON body of `model` (which the route reads itself)."""
    schema = {"$ref": _component(model)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def form_body(properties: dict[str, Any], required: list[str], **constraints: Any) -> dict[str, Any]:
    """`openapi_extra` declaring a form body, urlencoded or multipart, of text fields (and further `constraints`).

    Fields beyond `properties` are ignored, but read (and their text checked) like the others.
    """
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": {"type": "string"},
        **constraints,
    }
    content = {
        media_type: {"schema": schema} for media_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    }
    return {"requestBody": {"required": True, "content": content}}


def upload_body(field: str, description: str) -> dict[str, Any]:
    """`openapi_extra` declaring a multipart body with one required file field."""
    properties = {field: {"type": "string", "format": "binary", "description": description}}
    schema = {"type": "object", "properties": properties, "required": [field]}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def one_of(choices: Iterable[str], description: str) -> Any:
    """A query parameter documented as one of `choices`, which the route checks itself (with its own message)."""
    return Query(description=description, json_schema_extra={"enum": list(choices)})


def build(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document: FastAPI's, plus the self-read bodies and security schemes, minus 422."""
    # A copy: FastAPI's document shares the routes' `openapi_extra` dicts, which the walks below change.
    spec = copy.deepcopy(
        get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            servers=app.servers,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
    )
    components = spec.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    _, defs = models_json_schema([(m, "validation") for m in _MODELS.values()], ref_template=REF_TEMPLATE)
    for name, schema in defs.get("$defs", {}).items():
        if schemas.setdefault(name, schema) != schema:
            raise RuntimeError(f"two different schemas are both called {name!r}")
    components["securitySchemes"] = {**SECURITY_SCHEMES}
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                _present(parameter["schema"])
    for name in _VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    _refuse_nul(spec)
    return spec


def _present(schema: dict[str, Any]) -> None:
    """Drop the `null` choice of an optional parameter: absent is told by `required`, a value is never null."""
    choices = schema.get("anyOf")
    if isinstance(choices, list) and len(choices) == 2 and {"type": "null"} in choices:
        schema.pop("anyOf")
        schema.update(next(c for c in choices if c != {"type": "null"}))


def _refuse_nul(spec: dict[str, Any]) -> None:
    """Say, in every schema of what requests carry (parameters, bodies), that their text holds no NUL.

    Strings (not files), the names of maps and forms, and values of any type. Responses are left
    alone. A component a request refers to is changed where it is defined, once.
    """
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    prefix = REF_TEMPLATE.format(model="")
    seen: set[int] = set()

    def walk(schema: Any) -> None:
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            walk(schemas.get(ref.removeprefix(prefix)))
        if _is_any(schema):
            schemas.setdefault(JSON_VALUE, copy.deepcopy(_JSON_VALUE_SCHEMA))
            schema["$ref"] = REF_TEMPLATE.format(model=JSON_VALUE)
            return
        if _has_type(schema, "string") and schema.get("format") != "binary":
            _exclude_nul(schema)  # a file's bytes are not text
        if isinstance(schema.get("additionalProperties"), dict):
            # A map, or a form: the names are the sender's text too, and checked alike.
            names = schema.setdefault("propertyNames", {})
            _exclude_nul(names)
            seen.add(id(names))
        for key in ("properties", "patternProperties", "$defs"):
            for sub in (schema.get(key) or {}).values():
                walk(sub)
        for key in ("items", "additionalProperties", "contains", "not", "propertyNames"):
            walk(schema.get(key))
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            for sub in schema.get(key) or []:
                walk(sub)

    for path in spec.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                walk(media.get("schema"))


_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"})


def _is_any(schema: dict[str, Any]) -> bool:
    """Whether `schema` takes any JSON value: annotations only (pydantic's `Any`)."""
    return schema.keys() <= _ANNOTATIONS


def _has_type(schema: dict[str, Any], kind: str) -> bool:
    declared = schema.get("type")
    return declared == kind or (isinstance(declared, list) and kind in declared)


def _exclude_nul(schema: dict[str, Any]) -> None:
    """Add "no NUL" to a string schema; beside a pattern of its own, as an `allOf` (both must match)."""
    if "enum" in schema or "const" in schema:
        return  # fixed values, none with a NUL
    pattern = schema.get("pattern")
    if pattern is None:
        schema["pattern"] = NO_NUL
    elif pattern != NO_NUL and {"pattern": NO_NUL} not in schema.get("allOf", []):
        schema.setdefault("allOf", []).append({"pattern": NO_NUL})


def install(app: FastAPI) -> None:
    """Serve `build(app)` as the app's OpenAPI document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
