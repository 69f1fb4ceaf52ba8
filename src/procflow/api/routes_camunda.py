"""Camunda 7 external-task REST at ``/engine-rest/external-task``, so that existing Camunda
workers (``camunda-external-task-client-python3``, ``camunda-external-task-client-js``, the
Java client) run unchanged against Procflow with a bearer token.

Same operations as the native API, Camunda's shapes: typed variables, ``processInstanceId``
(the instance uuid), ``tenantId`` (the workspace). Tasks come from every workspace where the
token has ``worker``; ``tenantIdIn`` narrows. Fields Camunda clients send that Procflow has
no use for (``usePriority``, ``sorting``, ``processVariables``, ...) are ignored.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.bodies import parse_body
from procflow.api.camunda_variables import data_of, typed_variables
from procflow.api.plain_params import PlainParamsRoute
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.api.routes_external_tasks import fetch_with_long_poll, task_id_of
from procflow.api.schemas import body, problems
from procflow.api.worker_schemas import (
    CamundaBpmnError,
    CamundaComplete,
    CamundaExtendLock,
    CamundaFailure,
    CamundaFetch,
    CamundaTaskOut,
)
from procflow.model.data import split_path
from procflow.model.errors import InvalidRequestBody
from procflow.runtime import external_tasks as service
from procflow.runtime.external_tasks import LockedTask, worker_workspaces

router = APIRouter(
    prefix="/engine-rest/external-task", tags=["camunda 7"], route_class=PlainParamsRoute
)


def camunda_time(locked: LockedTask) -> str:
    """Camunda's date format: ``2026-12-01T10:00:00.000+0000``."""
    moment = locked.lock_expiration
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def camunda_task_json(locked: LockedTask) -> dict[str, Any]:
    task = locked.task
    return {
        "id": str(task.id),
        "topicName": task.topic,
        "workerId": task.locked_by,
        "processInstanceId": str(task.instance_uuid),
        "processDefinitionId": task.definition_name,
        "processDefinitionKey": task.definition_name,
        "processDefinitionVersionTag": None,
        "activityId": task.node_id,
        "activityInstanceId": f"{task.node_id}:{task.wait_id}",
        "executionId": str(task.token_uuid),
        "variables": typed_variables(task.data),
        "retries": task.retries,
        "lockExpirationTime": camunda_time(locked),
        "errorMessage": task.error_message,
        "errorDetails": task.error_details,
        "suspended": False,
        "tenantId": str(task.workspace_id),
        "businessKey": None,
        "priority": 0,
        "extensionProperties": {},
    }


def _tenants(body: CamundaFetch) -> list[UUID] | None:
    wanted = [tenant for topic in body.topics for tenant in topic.tenantIdIn or []]
    return wanted or None


def _fetch_request(body: CamundaFetch) -> service.FetchRequest:
    topics = []
    for topic in body.topics:
        for path in topic.variables or []:
            try:
                split_path(path)
            except ValueError as error:
                raise InvalidRequestBody(f"topics.variables: {error}.") from error
        variables = tuple(topic.variables) if topic.variables is not None else None
        topics.append(service.TopicRequest(topic.topicName, topic.lockDuration, variables))
    return service.FetchRequest(body.workerId, body.maxTasks, tuple(topics))


@router.post(
    "/fetchAndLock",
    summary="Camunda 7: fetch and lock external tasks",
    operation_id="camundaFetchAndLock",
    response_model=list[CamundaTaskOut],
    responses=problems(400, 401, 403, 413),
    openapi_extra=body(
        CamundaFetch,
        {
            "charge": {
                "workerId": "w1",
                "maxTasks": 10,
                "topics": [{"topicName": "payments", "lockDuration": 60000}],
            }
        },
    ),
)
async def fetch_and_lock(request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaFetch, await read_json_object(request, empty_ok=False))
    workspaces = worker_workspaces(principal, _tenants(body))
    locked = await fetch_with_long_poll(
        request, _fetch_request(body), workspaces, body.asyncResponseTimeout or 0
    )
    return JsonResponse([camunda_task_json(task) for task in locked])


@router.post(
    "/{taskId}/complete",
    summary="Camunda 7: complete an external task",
    operation_id="camundaComplete",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(
        CamundaComplete,
        {"paid": {"workerId": "w1", "variables": {"receipt": {"value": "R-1", "type": "String"}}}},
    ),
)
async def complete(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaComplete, await read_json_object(request, empty_ok=False))
    data = {**data_of(body.variables), **data_of(body.localVariables, "localVariables")}
    ctx = request.app.state.ctx
    await run_in_threadpool(
        service.complete, ctx, principal, task_id_of(taskId), body.workerId, data
    )
    return Response(status_code=204)


@router.post(
    "/{taskId}/failure",
    summary="Camunda 7: report an external task failed",
    operation_id="camundaFailure",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(
        CamundaFailure,
        {"down": {"workerId": "w1", "errorMessage": "down", "retries": 2, "retryTimeout": 5000}},
    ),
)
async def failure(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaFailure, await read_json_object(request, empty_ok=False))
    failed = service.Failure(
        body.errorMessage or "", body.errorDetails, body.retries or 0, body.retryTimeout or 0
    )
    ctx = request.app.state.ctx
    await run_in_threadpool(service.fail, ctx, principal, task_id_of(taskId), body.workerId, failed)
    return Response(status_code=204)


@router.post(
    "/{taskId}/bpmnError",
    summary="Camunda 7: throw a BPMN error at an external task",
    operation_id="camundaBpmnError",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(CamundaBpmnError, {"declined": {"workerId": "w1", "errorCode": "DECLINED"}}),
)
async def bpmn_error(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaBpmnError, await read_json_object(request, empty_ok=False))
    await run_in_threadpool(
        service.throw_bpmn_error, request.app.state.ctx, principal, task_id_of(taskId),
        body.workerId, (body.errorCode, body.errorMessage or ""), data_of(body.variables),
    )  # fmt: skip
    return Response(status_code=204)


@router.post(
    "/{taskId}/extendLock",
    summary="Camunda 7: extend the lock of a task this worker holds",
    operation_id="camundaExtendLock",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(CamundaExtendLock, {"more": {"workerId": "w1", "newDuration": 60000}}),
)
async def extend_lock(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaExtendLock, await read_json_object(request, empty_ok=False))
    await run_in_threadpool(
        service.extend_lock, request.app.state.ctx, principal, task_id_of(taskId), body.workerId,
        body.newDuration,
    )  # fmt: skip
    return Response(status_code=204)


@router.post(
    "/{taskId}/unlock",
    summary="Camunda 7: unlock an external task",
    operation_id="camundaUnlock",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 413)},
)
async def unlock(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    await run_in_threadpool(service.unlock, request.app.state.ctx, principal, task_id_of(taskId))
    return Response(status_code=204)
