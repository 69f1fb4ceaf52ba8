"""Camunda 7 typed variables <-> Procflow data.

Out: each top-level data key becomes ``{"value", "type", "valueInfo"}``; objects and lists
travel as Camunda ``Json`` (the value a JSON string, as Camunda's own Json type does).
In: ``type`` is optional; ``Json`` (and ``Object`` serialized as JSON) string values are
parsed; other types are taken as their JSON value.
"""

from __future__ import annotations

from typing import Any

import orjson

from procflow.model.data import JsonObject
from procflow.model.errors import InvalidRequestBody

# Camunda's Integer is 32 bits; past that the value is a Long.
_INT32 = 2**31

_PLAIN_TYPES = frozenset(
    {"string", "boolean", "integer", "long", "short", "double", "number", "date", "null"}
)
_JSON_TYPES = frozenset({"json", "object"})


def typed_variables(data: JsonObject) -> dict[str, dict[str, Any]]:
    return {name: _typed(value) for name, value in data.items()}


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, dict | list):
        return {"value": orjson.dumps(value).decode(), "type": "Json", "valueInfo": {}}
    return {"value": value, "type": _type_name(value), "valueInfo": {}}


def _type_name(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer" if -_INT32 <= value < _INT32 else "Long"
    if isinstance(value, float):
        return "Double"
    return "String"


def data_of(variables: Any, field: str = "variables") -> JsonObject:
    """The data a worker sends as Camunda variables (None or absent: nothing)."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidRequestBody(f"{field!r} must be an object of variables.", field=field)
    return {name: _value_of(name, typed, field) for name, typed in variables.items()}


def _value_of(name: str, typed: Any, field: str) -> Any:
    if not isinstance(typed, dict) or "value" not in typed:
        raise InvalidRequestBody(
            f"variable {name!r} must be an object with a 'value'.", field=f"{field}.{name}"
        )
    value = typed["value"]
    kind = typed.get("type")
    if kind is None:
        return value
    if not isinstance(kind, str) or kind.lower() not in _PLAIN_TYPES | _JSON_TYPES:
        raise InvalidRequestBody(
            f"variable {name!r} has type {kind!r}, which Procflow does not read.",
            field=f"{field}.{name}.type",
        )
    if kind.lower() in _JSON_TYPES and isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as error:
            raise InvalidRequestBody(
                f"variable {name!r} of type {kind} is not valid JSON: {error}.",
                field=f"{field}.{name}.value",
            ) from error
    return value
