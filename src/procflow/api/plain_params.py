"""A route class that binds plain parameters without FastAPI's dependency solver.

Profiling ``serve`` under wrk showed FastAPI's ``solve_dependencies`` as the largest single
cost of the event loop on a start: it inspects every parameter's annotation again on each
request. The start routes, and the routes workers call over and over (external tasks native
and Camunda's, message correlation), only take uuids and strings from the path, optional
headers and optional query parameters, so ``PlainParamsRoute`` binds those directly when a request
holds nothing that needs pydantic: every path uuid in its canonical form, every header
within its length bounds, no query string. Any other request (and any route with a
parameter of another kind) goes through FastAPI's own handler, so validation, its errors
and the OpenAPI document are exactly FastAPI's.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from annotated_types import MaxLen, MinLen
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# Reads one parameter from the request: its value, or _DECLINE when pydantic must decide.
Reader = Callable[[Request], Any]

_DECLINE = object()
# Query defaults bound as they are: FastAPI's deepcopy of these gives an equal value.
_IMMUTABLE = (type(None), bool, int, str)
# The one spelling of a uuid that pydantic and uuid.UUID read the same way, and the only
# one clients send in practice; any other goes through pydantic (and maybe its 400).
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class PlainParamsRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        readers = plain_readers(self.dependant)
        endpoint = self.dependant.call
        if readers is None or not inspect.iscoroutinefunction(endpoint):
            return standard
        request_name = self.dependant.request_param_name

        async def handler(request: Request) -> Response:
            values = bind(readers, request)
            if values is None or get_telemetry_data() is not None:
                # A value pydantic must judge, or OpenTelemetry recording FastAPI's spans.
                return await standard(request)
            if request_name is not None:
                values[request_name] = request
            response: Response = await endpoint(**values)
            return response

        return handler


def bind(readers: dict[str, Reader], request: Request) -> dict[str, Any] | None:
    """The endpoint's arguments, or None when one of them needs pydantic."""
    values = {}
    for name, read in readers.items():
        value = read(request)
        if value is _DECLINE:
            return None
        values[name] = value
    return values


def plain_readers(dependant: Dependant) -> dict[str, Reader] | None:
    """One reader per parameter, or None when the route takes anything else than plain path
    uuids and strings, optional string headers and optional query parameters."""
    if not _only_plain_kinds(dependant):
        return None
    readers: dict[str, Reader] = {}
    for field in dependant.path_params:
        path_reader = _path_reader(field.name, field.field_info)
        if path_reader is None:
            return None
        readers[field.name] = path_reader
    for field in dependant.header_params:
        header_reader = _header_reader(field.field_info)
        if header_reader is None:
            return None
        readers[field.name] = header_reader
    for field in dependant.query_params:
        default = field.field_info.default
        if field.field_info.is_required() or not isinstance(default, _IMMUTABLE):
            return None
        readers[field.name] = _query_default(default)
    return readers


def _only_plain_kinds(dependant: Dependant) -> bool:
    special = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    nested = dependant.dependencies or dependant.body_params or dependant.cookie_params
    return not nested and all(name is None for name in special)


def _path_reader(name: str, info: Any) -> Reader | None:
    if info.metadata or info.annotation not in (UUID, str):
        return None
    if info.annotation is str:
        return lambda request: request.path_params[name]

    def read_uuid(request: Request) -> Any:
        text = request.path_params[name]
        return UUID(text) if _CANONICAL_UUID.fullmatch(text) else _DECLINE

    return read_uuid


def _header_reader(info: Any) -> Reader | None:
    plain = info.annotation == (str | None) and info.default is None
    if not plain or info.alias is None or info.validation_alias not in (None, info.alias):
        return None
    if not isinstance(info, params.Header):
        return None
    low, high = 0, None
    for rule in info.metadata:
        if isinstance(rule, MinLen):
            low = rule.min_length
        elif isinstance(rule, MaxLen):
            high = rule.max_length
        else:
            return None
    key = info.alias.lower()

    def read_header(request: Request) -> Any:
        value = request.headers.get(key)
        if value is None:
            return None
        return value if low <= len(value) and (high is None or len(value) <= high) else _DECLINE

    return read_header


def _query_default(default: Any) -> Reader:
    return lambda request: _DECLINE if request.scope["query_string"] else default
