"""External tasks, native API (the ``worker`` role): fetch-and-lock with long polling,
complete, failure, bpmnError, extendLock, unlock. Times are in milliseconds, as Camunda's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.bodies import parse_body
from procflow.api.long_poll import TaskWakeups, long_poll
from procflow.api.plain_params import PlainParamsRoute
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.api.schemas import body, problems
from procflow.api.worker_schemas import (
    BpmnErrorBody,
    CompleteBody,
    ExtendLockBody,
    ExternalTaskOut,
    FailureBody,
    FetchBody,
)
from procflow.model.errors import ExternalTaskNotFound, WorkspaceNotFound
from procflow.runtime import external_tasks as service
from procflow.runtime.access import Principal, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.external_tasks import LockedTask

router = APIRouter(tags=["external tasks"], route_class=PlainParamsRoute)

# Camunda's upper bound for asyncResponseTimeout: 30 minutes.
MAX_ASYNC_RESPONSE_MS = 30 * 60 * 1000


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


def task_wakeups(request: Request) -> TaskWakeups:
    wakeups: TaskWakeups = request.app.state.task_wakeups
    return wakeups


def task_id_of(text: str) -> UUID:
    """A task id that is no uuid names no task: 404, as for any unknown id."""
    try:
        return UUID(text)
    except ValueError:
        raise ExternalTaskNotFound(taskId=text) from None


def to_request(body: FetchBody) -> service.FetchRequest:
    topics = tuple(
        service.TopicRequest(
            t.topicName, t.lockDuration, tuple(t.variables) if t.variables is not None else None
        )
        for t in body.topics
    )
    return service.FetchRequest(body.workerId, body.maxTasks, topics)


async def fetch_with_long_poll(
    request: Request,
    fetch: service.FetchRequest,
    workspaces: tuple[UUID, ...] | None,
    timeout_ms: int,
) -> list[LockedTask]:
    ctx = _ctx(request)

    async def attempt() -> list[LockedTask]:
        return await run_in_threadpool(service.fetch_and_lock, ctx, fetch, workspaces)

    cap: float = request.app.state.settings.max_long_poll_seconds
    return await long_poll(task_wakeups(request), attempt, min(timeout_ms / 1000, cap))


def millis(moment: Any) -> str:
    text: str = moment.isoformat(timespec="milliseconds")
    return text


def native_task_json(locked: LockedTask) -> dict[str, Any]:
    task = locked.task
    return {
        "id": str(task.id),
        "topicName": task.topic,
        "workerId": task.locked_by,
        "processInstanceUuid": str(task.instance_uuid),
        "processDefinitionName": task.definition_name,
        "activityId": task.node_id,
        "retries": task.retries,
        "lockExpirationTime": millis(locked.lock_expiration),
        "data": task.data,
        "errorMessage": task.error_message,
    }


@router.post(
    "/api/runtime/wks/{workspaceId}/external-tasks/fetch-and-lock",
    summary="Fetch and lock external tasks of the workspace (long polling)",
    operation_id="fetchExternalTasks",
    response_model=list[ExternalTaskOut],
    responses=problems(400, 401, 403, 404, 413),
    openapi_extra=body(
        FetchBody,
        {
            "charge": {
                "workerId": "w1",
                "maxTasks": 10,
                "topics": [{"topicName": "payments", "lockDuration": 60000}],
                "asyncResponseTimeout": 20000,
            }
        },
    ),
)
async def fetch_and_lock(workspaceId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    principal.require(workspaceId, Role.WORKER, WorkspaceNotFound())
    body = parse_body(FetchBody, await read_json_object(request, empty_ok=False))
    locked = await fetch_with_long_poll(
        request, to_request(body), (workspaceId,), body.asyncResponseTimeout
    )
    return JsonResponse([native_task_json(task) for task in locked])


async def _answer(request: Request, model: type[Any]) -> tuple[Principal, Any]:
    principal = principal_of(request)
    return principal, parse_body(model, await read_json_object(request, empty_ok=False))


@router.post(
    "/api/runtime/external-tasks/{taskId}/complete",
    summary="Complete an external task: its data is merged, the token moves on",
    operation_id="completeExternalTask",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(CompleteBody, {"paid": {"workerId": "w1", "data": {"receipt": "R-1"}}}),
)
async def complete(taskId: str, request: Request) -> Response:
    principal, body = await _answer(request, CompleteBody)
    await run_in_threadpool(
        service.complete,
        _ctx(request),
        principal,
        task_id_of(taskId),
        body.workerId,
        body.data or {},
    )
    return Response(status_code=204)


@router.post(
    "/api/runtime/external-tasks/{taskId}/failure",
    summary="Report an external task failed: retried later, or an incident",
    operation_id="failExternalTask",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(
        FailureBody,
        {
            "down": {
                "workerId": "w1",
                "errorMessage": "card service down",
                "retries": 2,
                "retryTimeout": 5000,
            }
        },
    ),
)
async def failure(taskId: str, request: Request) -> Response:
    principal, body = await _answer(request, FailureBody)
    failed = service.Failure(body.errorMessage, body.errorDetails, body.retries, body.retryTimeout)
    await run_in_threadpool(
        service.fail, _ctx(request), principal, task_id_of(taskId), body.workerId, failed
    )
    return Response(status_code=204)


@router.post(
    "/api/runtime/external-tasks/{taskId}/bpmnError",
    summary="Throw a BPMN error at an external task",
    operation_id="throwBpmnError",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(
        BpmnErrorBody,
        {"declined": {"workerId": "w1", "errorCode": "DECLINED", "errorMessage": "over the limit"}},
    ),
)
async def bpmn_error(taskId: str, request: Request) -> Response:
    principal, body = await _answer(request, BpmnErrorBody)
    await run_in_threadpool(
        service.throw_bpmn_error, _ctx(request), principal, task_id_of(taskId), body.workerId,
        (body.errorCode, body.errorMessage), body.data or {},
    )  # fmt: skip
    return Response(status_code=204)


@router.post(
    "/api/runtime/external-tasks/{taskId}/extendLock",
    summary="Extend the lock of a task this worker holds",
    operation_id="extendTaskLock",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 409, 413)},
    openapi_extra=body(ExtendLockBody, {"more": {"workerId": "w1", "newDuration": 60000}}),
)
async def extend_lock(taskId: str, request: Request) -> Response:
    principal, body = await _answer(request, ExtendLockBody)
    await run_in_threadpool(
        service.extend_lock, _ctx(request), principal, task_id_of(taskId), body.workerId,
        body.newDuration,
    )  # fmt: skip
    return Response(status_code=204)


@router.post(
    "/api/runtime/external-tasks/{taskId}/unlock",
    summary="Unlock an external task: fetchable again at once",
    operation_id="unlockExternalTask",
    status_code=204,
    response_class=Response,
    responses={**{204: {"description": "Done."}}, **problems(400, 401, 403, 404, 413)},
)
async def unlock(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    await run_in_threadpool(service.unlock, _ctx(request), principal, task_id_of(taskId))
    return Response(status_code=204)
