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

from procflow.api import schemas
from procflow.api.render import JsonResponse, status_json
from procflow.api.requests import principal_of, read_json_object, read_model
from procflow.api.schemas import problems
from procflow.model.data import JsonObject
from procflow.model.errors import InvalidRequestBody
from procflow.runtime import commands
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["operations"])

# 400: a path parameter that is not a UUID (or an incident id that is not a number).
OPERATION_ERRORS = problems(400, 401, 403, 404, 409)


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


@router.post(
    "/api/runtime/process/{uuid}/terminate",
    summary="Terminate an instance: its tokens end, its waits are cancelled",
    operation_id="terminateInstance",
    response_model=schemas.InstanceStatus,
    responses=problems(400, 401, 403, 404, 409, 413),
    openapi_extra=schemas.body(
        schemas.TerminateInstance, {"duplicate": {"reason": "duplicate case"}}, required=False
    ),
)
async def terminate_instance(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_model(request, schemas.TerminateInstance)
    view = await run_in_threadpool(commands.terminate, _ctx(request), principal, uuid, body.reason)
    return JsonResponse(status_json(view))


@router.post(
    "/api/runtime/process/{uuid}/hold",
    summary="Put an instance on hold: nothing moves it until it is unheld",
    operation_id="holdInstance",
    response_model=schemas.InstanceStatus,
    responses=OPERATION_ERRORS,
)
async def hold_instance(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(commands.hold, _ctx(request), principal, uuid)
    return JsonResponse(status_json(view))


@router.post(
    "/api/runtime/process/{uuid}/unhold",
    summary="Let an instance on hold run again; timers due meanwhile fire at once",
    operation_id="unholdInstance",
    response_model=schemas.InstanceStatus,
    responses=OPERATION_ERRORS,
)
async def unhold_instance(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(commands.unhold, _ctx(request), principal, uuid)
    return JsonResponse(status_json(view))


@router.post(
    "/api/runtime/process/{uuid}/incidents/{incidentId}/retry",
    summary="Retry a failed instance: merge a data patch and re-run the failed step",
    operation_id="retryIncident",
    response_model=schemas.InstanceStatus,
    responses=problems(400, 401, 403, 404, 409, 413),
    openapi_extra=schemas.body(
        schemas.RetryIncident, {"fix": {"data": {"applicant": {"income": 4000}}}}, required=False
    ),
)
async def retry_incident(uuid: UUID, incidentId: int, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    patch = _optional_object(body, "data")
    view = await run_in_threadpool(
        commands.retry_incident, _ctx(request), principal, uuid, incidentId, patch
    )
    return JsonResponse(status_json(view))


def _optional_object(body: JsonObject, name: str) -> JsonObject:
    value: Any = body.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequestBody(f"{name!r} must be a JSON object (a merge patch).", field=name)
    return value
