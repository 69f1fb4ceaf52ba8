"""External tasks, native API (the ``worker`` role): fetch-and-lock with long polling,
complete, failure, bpmnError, extendLock, unlock. Times are in milliseconds, as Camunda's."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.bodies import parse_body
from procflow.api.long_poll import TaskWakeups, long_poll
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.model.data import split_path
from procflow.model.errors import ExternalTaskNotFound, WorkspaceNotFound
from procflow.runtime import external_tasks as service
from procflow.runtime.access import Principal, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.external_tasks import MAX_LOCK_MS, MAX_TASKS, LockedTask

router = APIRouter(tags=["external tasks"])

# Camunda's upper bound for asyncResponseTimeout: 30 minutes.
MAX_ASYNC_RESPONSE_MS = 30 * 60 * 1000

WorkerId = Annotated[str, Field(min_length=1, max_length=200)]
Duration = Annotated[int, Field(gt=0, le=MAX_LOCK_MS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TopicBody(_Strict):
    topicName: Annotated[str, Field(min_length=1, max_length=200)]
    lockDuration: Duration
    variables: list[str] | None = None

    @field_validator("variables")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        for path in paths or []:
            split_path(path)  # a ValueError names the bad path
        return paths


class FetchBody(_Strict):
    workerId: WorkerId
    maxTasks: Annotated[int, Field(ge=1, le=MAX_TASKS)]
    topics: Annotated[list[TopicBody], Field(min_length=1, max_length=100)]
    asyncResponseTimeout: Annotated[int, Field(ge=0, le=MAX_ASYNC_RESPONSE_MS)] = 0


class CompleteBody(_Strict):
    workerId: WorkerId
    data: dict[str, Any] | None = None


class FailureBody(_Strict):
    workerId: WorkerId
    errorMessage: Annotated[str, Field(max_length=10_000)] = ""
    errorDetails: Annotated[str, Field(max_length=100_000)] | None = None
    retries: Annotated[int, Field(ge=0)]
    retryTimeout: Annotated[int, Field(ge=0, le=MAX_LOCK_MS)] = 0


class BpmnErrorBody(_Strict):
    workerId: WorkerId
    errorCode: Annotated[str, Field(min_length=1, max_length=200)]
    errorMessage: Annotated[str, Field(max_length=10_000)] = ""
    data: dict[str, Any] | None = None


class ExtendLockBody(_Strict):
    workerId: WorkerId
    newDuration: Duration


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

    return await long_poll(task_wakeups(request), attempt, timeout_ms / 1000)


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


@router.post("/api/runtime/external-tasks/{taskId}/complete", summary="Complete an external task")
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
    "/api/runtime/external-tasks/{taskId}/failure", summary="Report an external task failed"
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
)
async def bpmn_error(taskId: str, request: Request) -> Response:
    principal, body = await _answer(request, BpmnErrorBody)
    await run_in_threadpool(
        service.throw_bpmn_error, _ctx(request), principal, task_id_of(taskId), body.workerId,
        (body.errorCode, body.errorMessage), body.data or {},
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/api/runtime/external-tasks/{taskId}/extendLock", summary="Extend a task's lock")
async def extend_lock(taskId: str, request: Request) -> Response:
    principal, body = await _answer(request, ExtendLockBody)
    await run_in_threadpool(
        service.extend_lock, _ctx(request), principal, task_id_of(taskId), body.workerId,
        body.newDuration,
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/api/runtime/external-tasks/{taskId}/unlock", summary="Unlock an external task")
async def unlock(taskId: str, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    await run_in_threadpool(service.unlock, _ctx(request), principal, task_id_of(taskId))
    return Response(status_code=204)
