"""Instance endpoints: status, data, actions, lineage, audit, build info, search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

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
from procflow.model.states import InstanceState
from procflow.runtime import flowx_variants, queries
from procflow.runtime.commands import execute_action
from procflow.runtime.context import RuntimeContext
from procflow.store.port import InstanceQuery

router = APIRouter(tags=["instances"])


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


@router.get("/api/runtime/process/{uuid}/status", summary="Instance status")
@router.get("/api/runtime/process/{uuid}", summary="Instance status (Location of a start)")
async def instance_status(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(
        queries.instance_view, _ctx(request), principal, uuid, with_audit_summary=True
    )
    return JsonResponse(status_json(view))


@router.get("/api/runtime/process/{uuid}/data", summary="Instance data")
async def instance_data(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(queries.instance_view, _ctx(request), principal, uuid)
    return JsonResponse(view.instance.data)


@router.get("/api/runtime/process/{uuid}/audit", summary="The instance's audit log")
async def instance_audit(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    records = await run_in_threadpool(queries.audit_log, _ctx(request), principal, uuid)
    return JsonResponse({"uuid": str(uuid), "events": [audit_json(r) for r in records]})


@router.post(
    "/api/runtime/process/{uuid}/token/{tokenUuid}/action/{actionName}/execute",
    summary="Execute a user-task action; the body is merged into the data",
)
async def execute_token_action(
    uuid: UUID, tokenUuid: UUID, actionName: str, request: Request
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    view = await run_in_threadpool(
        execute_action, _ctx(request), principal, uuid, tokenUuid, actionName, body
    )
    return JsonResponse(start_response_json(view.instance, view.build))


@router.post(
    "/api/runtime/process/{uuid}/token/{tokenUuid}/ui-action/{uiActionFlowxUuid}"
    "/context/main/execute",
    summary="Execute a user-task action by its stable uiActionFlowxUuid (FlowX 4.6+)",
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


@router.get("/api/runtime/process/{uuid}/lineage", summary="The copy chain of an instance")
async def instance_lineage(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(queries.lineage_view, _ctx(request), principal, uuid)
    return JsonResponse(lineage_json(view))


@router.get(
    "/api/runtime/process-instance/{uuid}/build/info", summary="The build an instance runs on"
)
async def instance_build_info(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    build = await run_in_threadpool(queries.instance_build, _ctx(request), principal, uuid)
    return JsonResponse(build_json(build))


@router.get(
    "/api/runtime/wks/{workspaceId}/app/{appId}/build/info", summary="The app's active build"
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
)
async def search_process_instances(
    workspaceId: UUID,
    request: Request,
    processName: str | None = None,
    state: Annotated[list[InstanceState] | None, Query()] = None,
    createdFrom: datetime | None = None,
    createdTo: datetime | None = None,
    lineageRootUuid: UUID | None = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    principal = principal_of(request)
    query = InstanceQuery(
        workspace_id=workspaceId,
        definition_name=processName,
        states=tuple(state or ()),
        created_from=createdFrom,
        created_to=createdTo,
        lineage_root_uuid=lineageRootUuid,
        after=cursor,
        limit=limit + 1,
    )
    found = await run_in_threadpool(queries.search_instances, _ctx(request), principal, query)
    page = found[:limit]
    next_cursor = str(page[-1].id) if len(found) > limit and page else None
    return JsonResponse(
        {
            "content": [instance_summary_json(i) for i in page],
            "nextCursor": next_cursor,
        }
    )
