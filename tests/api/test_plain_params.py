"""The start routes' direct parameter binding (api/plain_params.py) against FastAPI's own
dependency solver: the same values for every request it binds, and every request it cannot
bind exactly the same way left to FastAPI."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any
from uuid import uuid4

import pytest
from fastapi.dependencies.utils import solve_dependencies
from starlette.requests import Request

from procflow.api import routes_start
from procflow.api.plain_params import PlainParamsRoute, bind, plain_readers
from tests.api.conftest import Api

WS, APP = uuid4(), uuid4()
S1 = "/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}/start"
S3 = S1 + "/copyDataFrom/{processInstanceId}"


def _route(path: str) -> PlainParamsRoute:
    found = next(r for r in routes_start.router.routes if getattr(r, "path", None) == path)
    assert isinstance(found, PlainParamsRoute)
    return found


def _request(path_params: dict[str, str], headers: dict[str, str], query: bytes = b"") -> Request:
    raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": query,
             "headers": raw, "path_params": path_params}  # fmt: skip
    return Request(scope)


def _plain(route: PlainParamsRoute, request: Request) -> dict[str, Any] | None:
    readers = plain_readers(route.dependant)
    assert readers is not None
    return bind(readers, request)


def _fastapi(route: PlainParamsRoute, request: Request) -> tuple[dict[str, Any], list[Any]]:
    async def solve() -> tuple[dict[str, Any], list[Any]]:
        async with AsyncExitStack() as stack:
            request.scope["fastapi_inner_astack"] = stack
            request.scope["fastapi_function_astack"] = stack
            solved = await solve_dependencies(
                request=request,
                dependant=route.dependant,
                async_exit_stack=stack,
                embed_body_fields=False,
            )
        values = {k: v for k, v in solved.values.items() if k != "request"}
        return values, solved.errors

    return asyncio.run(solve())


S1_PATH = {"workspaceId": str(WS), "appId": str(APP), "processName": "loan"}
BOUND = [
    (S1, S1_PATH, {}),
    (S1, {**S1_PATH, "workspaceId": str(WS).upper(), "processName": "a b/é"}, {}),
    (S1, S1_PATH, {"Idempotency-Key": "k", "Flowx-Platform": "web"}),
    (S1, S1_PATH, {"idempotency-key": "x" * 255, "flowx-platform": ""}),
    (S3, {**S1_PATH, "processInstanceId": str(uuid4())}, {"Idempotency-Key": " spaced "}),
]
LEFT_TO_FASTAPI = [
    (S1, {**S1_PATH, "workspaceId": "not-a-uuid"}, {}, b""),
    (S1, {**S1_PATH, "appId": WS.hex}, {}, b""),
    (S1, {**S1_PATH, "appId": f"{{{APP}}}"}, {}, b""),
    (S1, {**S1_PATH, "appId": f"urn:uuid:{APP}"}, {}, b""),
    (S1, S1_PATH, {"Idempotency-Key": ""}, b""),
    (S1, S1_PATH, {"Idempotency-Key": "x" * 256}, b""),
    (S3, {**S1_PATH, "processInstanceId": str(uuid4())}, {}, b"dryRun=true"),
    (S3, {**S1_PATH, "processInstanceId": str(uuid4())}, {}, b"dryRun=maybe"),
]


@pytest.mark.parametrize(("path", "path_params", "headers"), BOUND)
def test_bound_values_are_fastapis(
    path: str, path_params: dict[str, str], headers: dict[str, str]
) -> None:
    route = _route(path)
    request = _request(path_params, headers)
    values, errors = _fastapi(route, request)
    assert errors == []
    assert _plain(route, request) == values


@pytest.mark.parametrize(("path", "path_params", "headers", "query"), LEFT_TO_FASTAPI)
def test_what_needs_pydantic_is_left_to_fastapi(
    path: str, path_params: dict[str, str], headers: dict[str, str], query: bytes
) -> None:
    assert _plain(_route(path), _request(path_params, headers, query)) is None


def test_every_start_route_binds_plainly() -> None:
    for route in routes_start.router.routes:
        assert isinstance(route, PlainParamsRoute)
        assert plain_readers(route.dependant) is not None, route.path


def test_a_non_canonical_uuid_still_starts(api: Api) -> None:
    """FastAPI's path: pydantic reads a uuid without hyphens as the same uuid."""
    path = f"/api/runtime/wks/{api.workspace.hex}/app/{api.test_app}/process-name/straight/start"
    answer = api.client.post(path, json={}, headers=api.headers())
    assert answer.status_code == 200, answer.text
    assert answer.json()["workspaceId"] == str(api.workspace)
