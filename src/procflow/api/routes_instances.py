"""Instance endpoints: status, data, actions, lineage, audit, build info, search."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api import schemas
from procflow.api.render import (
    JsonResponse,
    audit_json,
    build_json,
    instance_summary_json,
    lineage_json,
    start_response_json,
    status_json,
)
from procflow.api.requests import principal_of, read_json_object
from procflow.api.schemas import problems
from procflow.model.errors import InvalidParameter
from procflow.model.states import InstanceState
from procflow.runtime import flowx_variants, metrics, queries
from procflow.runtime.commands import execute_action
from procflow.runtime.context import RuntimeContext
from procflow.store.port import ExternalTask, InstanceQuery

router = APIRouter(tags=["instances"])

READ_ERRORS = problems(400, 401, 403, 404)
# A cursor is the processInstanceId of the last row of a page: at most 19 digits (one past
# 2^63 - 1 is refused by the search itself, with the same 400).
CURSOR_PATTERN = r"^[0-9]{1,19}$"
# RFC 3339 date-times only: pydantic's datetime would also take "0.5" as a Unix time,
# which the published schema (format date-time) calls invalid.
INSTANT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
Instant = Annotated[
    str | None,
    Query(pattern=INSTANT_PATTERN, json_schema_extra={"format": "date-time"}),
]

# The call-tree filters, shared by the search and its counts.
ParentUuid = Annotated[
    UUID | None, Query(description="Only the children of this instance (call activities).")
]
RootUuid = Annotated[
    UUID | None, Query(description="Every instance of this call tree, below its root.")
]


def instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise InvalidParameter(f"{name} is not a date-time: {value!r}.", parameter=name) from error


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


@router.get(
    "/api/runtime/process/{uuid}/status",
    summary="Instance status",
    operation_id="getStatus",
    response_model=schemas.InstanceStatus,
    responses=READ_ERRORS,
)
@router.get(
    "/api/runtime/process/{uuid}",
    summary="Instance status (the Location of a start)",
    operation_id="getInstance",
    response_model=schemas.InstanceStatus,
    responses=READ_ERRORS,
)
async def instance_status(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(
        queries.instance_view, _ctx(request), principal, uuid, with_audit_summary=True
    )
    return JsonResponse(status_json(view))


@router.get(
    "/api/runtime/process/{uuid}/data",
    summary="Instance data",
    operation_id="getData",
    response_model=schemas.ProcessData,
    responses=READ_ERRORS,
)
async def instance_data(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(queries.instance_view, _ctx(request), principal, uuid)
    return JsonResponse(view.instance.data)


@router.get(
    "/api/runtime/process/{uuid}/audit",
    summary="The instance's audit log",
    operation_id="getAuditLog",
    response_model=schemas.AuditLog,
    responses=READ_ERRORS,
)
async def instance_audit(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    records = await run_in_threadpool(queries.audit_log, _ctx(request), principal, uuid)
    return JsonResponse({"uuid": str(uuid), "events": [audit_json(r) for r in records]})


@router.post(
    "/api/runtime/process/{uuid}/token/{tokenUuid}/action/{actionName}/execute",
    summary="Execute a user-task action; the body is merged into the data",
    operation_id="executeAction",
    response_model=schemas.StartResponse,
    responses=problems(400, 401, 403, 404, 409, 413),
    openapi_extra=schemas.body(
        schemas.ProcessData, {"approve": schemas.EXAMPLE_ACTION_BODY}, required=False
    ),
)
async def execute_token_action(
    uuid: UUID, tokenUuid: UUID, actionName: str, request: Request
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    view = await run_in_threadpool(
        execute_action, _ctx(request), principal, uuid, tokenUuid, actionName, body
    )
    metrics.observe_action(view.instance.definition_name, actionName)
    return JsonResponse(start_response_json(view.instance, view.build))


@router.post(
    "/api/runtime/process/{uuid}/token/{tokenUuid}/ui-action/{uiActionFlowxUuid}"
    "/context/main/execute",
    summary="Execute a user-task action by its stable uiActionFlowxUuid (FlowX 4.6+)",
    operation_id="executeUiAction",
    response_model=schemas.UiActionAnswer,
    # No 409: an action the token's node does not offer (it moved on, it is held) is a 400.
    responses=problems(400, 401, 403, 404, 413),
    openapi_extra=schemas.body(
        schemas.ProcessData, {"approve": schemas.EXAMPLE_ACTION_BODY}, required=False
    ),
)
async def execute_ui_action(
    uuid: UUID, tokenUuid: UUID, uiActionFlowxUuid: UUID, request: Request
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    view = await run_in_threadpool(
        flowx_variants.execute_ui_action, _ctx(request), principal, uuid, tokenUuid,
        uiActionFlowxUuid, body,
    )  # fmt: skip
    token = view.instance.token(tokenUuid)
    return JsonResponse(
        {
            "tokenUuid": str(tokenUuid),
            "currentNodeId": token.node_id if token is not None else None,
            "templatesSequence": None,
            "backAction": False,
            "resetToken": False,
        }
    )


@router.get(
    "/api/runtime/process/{uuid}/external-tasks",
    summary="The instance's open external tasks: topic, lock holder and expiry, retries",
    operation_id="listInstanceExternalTasks",
    response_model=schemas.InstanceExternalTasks,
    responses=READ_ERRORS,
)
async def instance_external_tasks(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    tasks = await run_in_threadpool(queries.external_tasks, _ctx(request), principal, uuid)
    return JsonResponse({"content": [_task_json(t) for t in tasks]})


def _task_json(task: ExternalTask) -> dict[str, object]:
    return {
        "id": str(task.id),
        "waitId": task.wait_id,
        "nodeId": task.node_id,
        "topic": task.topic,
        "retries": task.retries,
        "availableAt": task.available_at.isoformat(),
        "lockedBy": task.locked_by,
        "lockedUntil": task.locked_until.isoformat() if task.locked_until else None,
        "errorMessage": task.error_message,
    }


@router.get(
    "/api/runtime/process/{uuid}/lineage",
    summary="The copy chain of an instance",
    operation_id="getLineage",
    response_model=schemas.Lineage,
    responses=READ_ERRORS,
)
async def instance_lineage(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(queries.lineage_view, _ctx(request), principal, uuid)
    return JsonResponse(lineage_json(view))


@router.get(
    "/api/runtime/process-instance/{uuid}/build/info",
    summary="The build an instance runs on",
    operation_id="getInstanceBuild",
    response_model=schemas.BuildInfo,
    responses=READ_ERRORS,
)
async def instance_build_info(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    build = await run_in_threadpool(queries.instance_build, _ctx(request), principal, uuid)
    return JsonResponse(build_json(build))


@router.get(
    "/api/runtime/wks/{workspaceId}/app/{appId}/build/info",
    summary="The app's active build",
    operation_id="getActiveBuild",
    response_model=schemas.BuildInfo,
    responses=problems(400, 401, 403, 404),
)
async def active_build_info(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    build = await run_in_threadpool(
        queries.active_build, _ctx(request), principal, workspaceId, appId
    )
    return JsonResponse(build_json(build, active=True))


@router.get(
    "/api/runtime/wks/{workspaceId}/process-instances",
    summary="Search instances; cursor-paginated by ascending processInstanceId",
    operation_id="searchInstances",
    response_model=schemas.SearchPage,
    responses=problems(400, 401, 403, 404),
)
async def search_process_instances(
    workspaceId: UUID,
    request: Request,
    processName: str | None = None,
    state: Annotated[list[InstanceState] | None, Query()] = None,
    createdFrom: Instant = None,
    createdTo: Instant = None,
    lineageRootUuid: UUID | None = None,
    parentProcessInstanceUuid: ParentUuid = None,
    rootProcessInstanceUuid: RootUuid = None,
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="The nextCursor of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    principal = principal_of(request)
    filters = _filters(workspaceId, processName, createdFrom, createdTo, lineageRootUuid,
                       parentProcessInstanceUuid, rootProcessInstanceUuid)  # fmt: skip
    query = replace(filters, states=tuple(state or ()),
                    after=int(cursor) if cursor is not None else None, limit=limit + 1)  # fmt: skip
    found = await run_in_threadpool(queries.search_instances, _ctx(request), principal, query)
    page = found[:limit]
    next_cursor = str(page[-1].id) if len(found) > limit and page else None
    return JsonResponse(
        {
            "content": [instance_summary_json(i) for i in page],
            "nextCursor": next_cursor,
        }
    )


@router.get(
    "/api/runtime/wks/{workspaceId}/process-instances/counts",
    summary="How many instances match a search, by state (the search's filters but state)",
    operation_id="countInstances",
    response_model=schemas.InstanceCounts,
    responses=problems(400, 401, 403, 404),
)
async def count_process_instances(
    workspaceId: UUID,
    request: Request,
    processName: str | None = None,
    createdFrom: Instant = None,
    createdTo: Instant = None,
    lineageRootUuid: UUID | None = None,
    parentProcessInstanceUuid: ParentUuid = None,
    rootProcessInstanceUuid: RootUuid = None,
) -> Response:
    principal = principal_of(request)
    query = _filters(workspaceId, processName, createdFrom, createdTo, lineageRootUuid,
                     parentProcessInstanceUuid, rootProcessInstanceUuid)  # fmt: skip
    counts = await run_in_threadpool(queries.count_by_state, _ctx(request), principal, query)
    return JsonResponse({"counts": counts})


def _filters(
    workspace_id: UUID,
    process_name: str | None,
    created_from: str | None,
    created_to: str | None,
    lineage_root: UUID | None,
    parent: UUID | None,
    root: UUID | None,
) -> InstanceQuery:
    """The search's filters but state, which the search and its counts share."""
    return InstanceQuery(
        workspace_id=workspace_id,
        definition_name=process_name,
        created_from=instant(created_from, "createdFrom"),
        created_to=instant(created_to, "createdTo"),
        lineage_root_uuid=lineage_root,
        parent_uuid=parent,
        root_uuid=root,
    )
