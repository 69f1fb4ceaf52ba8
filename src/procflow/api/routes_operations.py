"""Operating instances: terminate, hold, unhold, retry an incident (the ``operate`` role).

Each answers the instance's status after the operation. An operation that does not fit the
instance's state answers 409 with the current state and changes nothing; doing again what
is done already (terminating a terminated instance) answers 200 and changes nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.render import JsonResponse, status_json
from procflow.api.requests import principal_of, read_json_object
from procflow.model.data import JsonObject
from procflow.model.errors import InvalidRequestBody
from procflow.runtime import commands
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["operations"])


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


@router.post("/api/runtime/process/{uuid}/terminate", summary="Terminate an instance")
async def terminate_instance(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    reason = _optional_text(body, "reason")
    view = await run_in_threadpool(commands.terminate, _ctx(request), principal, uuid, reason)
    return JsonResponse(status_json(view))


@router.post("/api/runtime/process/{uuid}/hold", summary="Put an instance on hold")
async def hold_instance(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    view = await run_in_threadpool(commands.hold, _ctx(request), principal, uuid)
    return JsonResponse(status_json(view))


@router.post("/api/runtime/process/{uuid}/unhold", summary="Let an instance on hold run again")
async def unhold_instance(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    view = await run_in_threadpool(commands.unhold, _ctx(request), principal, uuid)
    return JsonResponse(status_json(view))


@router.post(
    "/api/runtime/process/{uuid}/incidents/{incidentId}/retry",
    summary="Retry a failed instance: merge a data patch and re-run the failed step",
)
async def retry_incident(uuid: UUID, incidentId: int, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    patch = _optional_object(body, "data")
    view = await run_in_threadpool(
        commands.retry_incident, _ctx(request), principal, uuid, incidentId, patch
    )
    return JsonResponse(status_json(view))


def _optional_text(body: JsonObject, name: str) -> str:
    value: Any = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidRequestBody(f"{name!r} must be a string.", field=name)
    return value


def _optional_object(body: JsonObject, name: str) -> JsonObject:
    value: Any = body.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequestBody(f"{name!r} must be a JSON object (a merge patch).", field=name)
    return value
