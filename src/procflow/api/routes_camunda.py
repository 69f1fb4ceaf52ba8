"""Camunda 7 external-task REST at ``/engine-rest/external-task``, so that existing Camunda
workers (``camunda-external-task-client-python3``, ``camunda-external-task-client-js``, the
Java client) run unchanged against Procflow with a bearer token.

Same operations as the native API, Camunda's shapes: typed variables, ``processInstanceId``
(the instance uuid), ``tenantId`` (the workspace). Tasks come from every workspace where the
token has ``worker``; ``tenantIdIn`` narrows. Fields Camunda clients send that Procflow has
no use for (``usePriority``, ``sorting``, ``processVariables``, ...) are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.bodies import parse_body
from procflow.api.camunda_variables import data_of, typed_variables
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.api.routes_external_tasks import (
    MAX_ASYNC_RESPONSE_MS,
    Duration,
    WorkerId,
    fetch_with_long_poll,
    task_id_of,
)
from procflow.model.data import split_path
from procflow.model.errors import InvalidRequestBody
from procflow.runtime import external_tasks as service
from procflow.runtime.external_tasks import MAX_TASKS, LockedTask, worker_workspaces

router = APIRouter(prefix="/engine-rest/external-task", tags=["camunda 7"])


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CamundaTopic(_Lenient):
    topicName: Annotated[str, Field(min_length=1, max_length=200)]
    lockDuration: Duration
    variables: list[str] | None = None
    tenantIdIn: list[UUID] | None = None


class CamundaFetch(_Lenient):
    workerId: WorkerId
    maxTasks: Annotated[int, Field(ge=1, le=MAX_TASKS)]
    topics: Annotated[list[CamundaTopic], Field(min_length=1, max_length=100)]
    asyncResponseTimeout: Annotated[int, Field(ge=0, le=MAX_ASYNC_RESPONSE_MS)] | None = None


class CamundaComplete(_Lenient):
    workerId: WorkerId
    variables: dict[str, Any] | None = None
    localVariables: dict[str, Any] | None = None


class CamundaFailure(_Lenient):
    workerId: WorkerId
    errorMessage: Annotated[str, Field(max_length=10_000)] | None = None
    errorDetails: Annotated[str, Field(max_length=100_000)] | None = None
    retries: Annotated[int, Field(ge=0)] | None = None
    retryTimeout: Annotated[int, Field(ge=0)] | None = None


class CamundaBpmnError(_Lenient):
    workerId: WorkerId
    errorCode: Annotated[str, Field(min_length=1, max_length=200)]
    errorMessage: Annotated[str, Field(max_length=10_000)] | None = None
    variables: dict[str, Any] | None = None


class CamundaExtendLock(_Lenient):
    workerId: WorkerId
    newDuration: Duration


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


@router.post("/fetchAndLock", summary="Camunda 7: fetch and lock external tasks")
async def fetch_and_lock(request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaFetch, await read_json_object(request, empty_ok=False))
    workspaces = worker_workspaces(principal, _tenants(body))
    locked = await fetch_with_long_poll(
        request, _fetch_request(body), workspaces, body.asyncResponseTimeout or 0
    )
    return JsonResponse([camunda_task_json(task) for task in locked])


@router.post("/{taskId}/complete", summary="Camunda 7: complete an external task")
async def complete(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaComplete, await read_json_object(request, empty_ok=False))
    data = {**data_of(body.variables), **data_of(body.localVariables, "localVariables")}
    ctx = request.app.state.ctx
    await run_in_threadpool(
        service.complete, ctx, principal, task_id_of(taskId), body.workerId, data
    )
    return Response(status_code=204)


@router.post("/{taskId}/failure", summary="Camunda 7: report an external task failed")
async def failure(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaFailure, await read_json_object(request, empty_ok=False))
    failed = service.Failure(
        body.errorMessage or "", body.errorDetails, body.retries or 0, body.retryTimeout or 0
    )
    ctx = request.app.state.ctx
    await run_in_threadpool(service.fail, ctx, principal, task_id_of(taskId), body.workerId, failed)
    return Response(status_code=204)


@router.post("/{taskId}/bpmnError", summary="Camunda 7: throw a BPMN error at an external task")
async def bpmn_error(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaBpmnError, await read_json_object(request, empty_ok=False))
    await run_in_threadpool(
        service.throw_bpmn_error, request.app.state.ctx, principal, task_id_of(taskId),
        body.workerId, (body.errorCode, body.errorMessage or ""), data_of(body.variables),
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/{taskId}/extendLock", summary="Camunda 7: extend a task's lock")
async def extend_lock(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(CamundaExtendLock, await read_json_object(request, empty_ok=False))
    await run_in_threadpool(
        service.extend_lock, request.app.state.ctx, principal, task_id_of(taskId), body.workerId,
        body.newDuration,
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/{taskId}/unlock", summary="Camunda 7: unlock an external task")
async def unlock(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    await run_in_threadpool(service.unlock, request.app.state.ctx, principal, task_id_of(taskId))
    return Response(status_code=204)
