"""The three start endpoints (API.md S1, S2, S3)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.render import JsonResponse, dry_run_json, start_response_json
from procflow.api.requests import path_list, principal_of, read_json_object
from procflow.model.data import JsonObject
from procflow.model.errors import InvalidParameter, InvalidRequestBody
from procflow.runtime import flowx_variants
from procflow.runtime.context import RuntimeContext
from procflow.runtime.copying import CopySpec
from procflow.runtime.starting import StartRequest, StartTarget, dry_run, start_process

router = APIRouter(tags=["start"])

MAX_IDEMPOTENCY_KEY_LENGTH = 255


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidParameter("Idempotency-Key must be 1 to 255 characters.")
    return key


async def _start(
    request: Request,
    target: StartTarget,
    process_name: str,
    copy: CopySpec | None = None,
    *,
    is_dry_run: bool = False,
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    start = StartRequest(
        target=target,
        process_name=process_name,
        body=body,
        copy=copy,
        idempotency_key=_idempotency_key(request),
        platform=request.headers.get("flowx-platform"),
    )
    ctx: RuntimeContext = request.app.state.ctx
    if is_dry_run:
        prepared = await run_in_threadpool(dry_run, ctx, principal, start)
        return JsonResponse(dry_run_json(prepared))
    outcome = await run_in_threadpool(start_process, ctx, principal, start)
    headers = {"Location": f"/api/runtime/process/{outcome.instance.uuid}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JsonResponse(start_response_json(outcome.instance, outcome.build), headers=headers)


def _start_at(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise InvalidParameter("startAt must name a node.", parameter="startAt")
    return value


@router.post(
    "/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}/start",
    summary="Start a process on the app's active build (S1)",
)
async def start_on_active_build(
    workspaceId: UUID, appId: UUID, processName: str, request: Request
) -> Response:
    return await _start(request, StartTarget(appId, workspace_id=workspaceId), processName)


@router.post(
    "/api/runtime/app/{appId}/build/{buildId}/process-name/{processName}/start",
    summary="Start a process pinned to a build (S2)",
)
async def start_on_build(
    appId: UUID, buildId: UUID, processName: str, request: Request
) -> Response:
    return await _start(request, StartTarget(appId, build_id=buildId), processName)


@router.post(
    "/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}"
    "/start/copyDataFrom/{processInstanceId}",
    summary="Start with data copied from another instance, body merged on top (S3)",
)
async def start_with_copied_data(
    workspaceId: UUID,
    appId: UUID,
    processName: str,
    processInstanceId: UUID,
    request: Request,
    paramsToCopy: Annotated[str | None, Query(description="copy only these paths")] = None,
    withoutParams: Annotated[str | None, Query(description="copy all but these paths")] = None,
    dryRun: Annotated[bool, Query(description="answer with the merged data only")] = False,
    startAt: Annotated[
        str | None, Query(description="start with one token at this node (resume downstream)")
    ] = None,
) -> Response:
    copy = CopySpec(
        source_uuid=processInstanceId,
        params_to_copy=path_list(paramsToCopy, "paramsToCopy"),
        without_params=path_list(withoutParams, "withoutParams") or (),
        start_at=_start_at(startAt),
    )
    target = StartTarget(appId, workspace_id=workspaceId)
    return await _start(request, target, processName, copy, is_dry_run=dryRun)


@router.post(
    "/api/runtime/wks/{workspaceId}/app/{appId}/rdi/{resourceDefinitionId}"
    "/start/inherit-from/{processInstanceId}",
    summary="Start the process with this resourceDefinitionId, inheriting another's data",
)
async def start_inheriting(
    workspaceId: UUID,
    appId: UUID,
    resourceDefinitionId: UUID,
    processInstanceId: UUID,
    request: Request,
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    copy = inherit_spec(processInstanceId, body)
    ctx: RuntimeContext = request.app.state.ctx
    outcome = await run_in_threadpool(
        flowx_variants.start_inheriting, ctx, principal, workspaceId, appId,
        resourceDefinitionId, copy, _idempotency_key(request),
    )  # fmt: skip
    headers = {"Location": f"/api/runtime/process/{outcome.instance.uuid}"}
    return JsonResponse(start_response_json(outcome.instance, outcome.build), headers=headers)


def inherit_spec(source: UUID, body: JsonObject) -> CopySpec:
    """FlowX ``paramsToInherit``: ``paramsToCopy`` and ``withoutParams`` lists; neither (or
    both empty) copies everything."""
    unknown = sorted(set(body) - {"paramsToInherit"})
    if unknown:
        raise InvalidRequestBody(f"Unknown fields: {', '.join(unknown)}.", fields=unknown)
    inherit: Any = body.get("paramsToInherit")
    inherit = {} if inherit is None else inherit
    if not isinstance(inherit, dict) or set(inherit) - {"paramsToCopy", "withoutParams"}:
        raise InvalidRequestBody(
            "'paramsToInherit' must be {paramsToCopy: [...], withoutParams: [...]}."
        )
    lists = {name: _path_names(inherit.get(name), name) for name in inherit}
    to_copy = lists.get("paramsToCopy") or None
    return CopySpec(source, to_copy, lists.get("withoutParams") or ())


def _path_names(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequestBody(f"'paramsToInherit.{name}' must be a list of paths.")
    return path_list(",".join(value), name) or ()
