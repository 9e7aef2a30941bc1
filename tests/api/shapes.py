"""Every JSON answer of the API against the schema its route declares.

:func:`check_answers` hooks an app so that each successful JSON answer of an ``/api/v1``
route is compared with the response schema of its operation in the generated OpenAPI
document (which flask-smorest builds from the same marshmallow ``...Out`` schema that dumped
the answer): every field the answer holds is declared, every required field is there,
each value has the declared type (``null`` only where declared nullable, a member of an
``enum``, a ``date-time`` with its offset, a ``date`` as ``YYYY-MM-DD``). A mismatch fails
the test that made the request. The app fixture of tests/conftest.py installs it, so every
API test of the suite checks the shapes of the answers it gets.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Flask, Response, json, request, request_finished

_SPEC: dict[str, Any] | None = None  # the document is the same for every test app


class ShapeMismatch(AssertionError):
    pass


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def spec_of(app: Flask) -> dict[str, Any]:
    global _SPEC
    if _SPEC is None:
        api = next(iter(app.extensions["flask-smorest"]["blp_name_to_api"].values()))
        _SPEC = json.loads(json.dumps(api.spec.to_dict()))  # as /api/v1/openapi.json serves it
    return _SPEC


def declared_schema(
    spec: dict[str, Any], path: str, method: str, status: int
) -> dict[str, Any] | None:
    """The JSON schema the operation declares for this status, if any."""
    operation = spec["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return None
    answer = operation.get("responses", {}).get(str(status))
    if answer is None:
        return None
    if "$ref" in answer:
        answer = _resolve(spec, answer)
    return answer.get("content", {}).get("application/json", {}).get("schema")


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def check(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """Raise :class:`ShapeMismatch` naming the first place ``value`` does not fit."""
    schema = _resolve(spec, schema)
    if "allOf" in schema:
        for part in schema["allOf"]:
            check(spec, part, value, where)
        return
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf")
        errors = []
        for option in options:
            try:
                check(spec, option, value, where)
                return
            except ShapeMismatch as error:
                errors.append(str(error))
        raise ShapeMismatch(f"{where}: fits none of the alternatives ({'; '.join(errors)})")
    if value is None:
        if schema.get("nullable") or (schema.get("enum") and None in schema["enum"]):
            return
        if not schema.get("type") and not schema.get("properties"):
            return  # declared without a type: anything
        raise ShapeMismatch(f"{where}: null, but the schema does not allow null")
    kind = schema.get("type")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind is not None:
        allowed = _TYPES[kind]
        if isinstance(value, bool) and kind in ("integer", "number"):
            raise ShapeMismatch(f"{where}: {value!r} is a boolean, declared {kind}")
        if not isinstance(value, allowed):
            raise ShapeMismatch(f"{where}: {value!r} is not of the declared type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise ShapeMismatch(f"{where}: {value!r} is not one of {schema['enum']}")
    if kind == "string":
        _check_format(schema.get("format"), value, where)
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            check(spec, schema["items"], item, f"{where}[{index}]")
    if kind == "object":
        _check_object(spec, schema, value, where)


def _check_format(fmt: str | None, value: str, where: str) -> None:
    if fmt == "date-time":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ShapeMismatch(f"{where}: {value!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise ShapeMismatch(f"{where}: {value!r} has no offset")
    elif fmt == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ShapeMismatch(f"{where}: {value!r} is not a YYYY-MM-DD day") from None


def _check_object(
    spec: dict[str, Any], schema: dict[str, Any], value: dict[str, Any], where: str
) -> None:
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for name in schema.get("required", ()):
        if name not in value:
            raise ShapeMismatch(f"{where}: the required field {name!r} is missing")
    for name, item in value.items():
        if properties is not None and name in properties:
            check(spec, properties[name], item, f"{where}.{name}")
        elif isinstance(extra, dict):
            check(spec, extra, item, f"{where}.{name}")
        elif properties is not None and extra is not True:
            raise ShapeMismatch(f"{where}: the field {name!r} is not declared")


def check_response(app: Flask, response: Response) -> None:
    """Check the answer to the current request (a 2xx JSON answer of an API route)."""
    rule = request.url_rule
    if rule is None or not rule.rule.startswith("/api/v1/") or not response.is_json:
        return
    if not 200 <= response.status_code < 300 or response.status_code == 204:
        return  # an error has the error shape (tests/api/test_fuzz.py); 204 has no content
    if rule.rule.endswith("/openapi.json"):
        return
    spec = spec_of(app)
    path = _openapi_path(rule.rule)
    schema = declared_schema(spec, path, request.method, response.status_code)
    if schema is None:
        raise ShapeMismatch(
            f"{request.method} {path} answered {response.status_code} with JSON, "
            "but declares no JSON schema for that status"
        )
    body = response.get_json()
    try:
        check(spec, schema, body)
    except ShapeMismatch as error:
        raise ShapeMismatch(f"{request.method} {path} {response.status_code}: {error}") from None


def check_answers(app: Flask) -> None:
    """Check every API answer of ``app`` against its declared schema (see the module)."""

    def _on_finished(sender: Flask, response: Response, **_: Any) -> None:
        check_response(sender, response)

    request_finished.connect(_on_finished, app, weak=False)
