"""The three start endpoints (API.md S1, S2, S3)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api import schemas
from procflow.api.plain_params import PlainParamsRoute
from procflow.api.render import JsonResponse, dry_run_json, start_response_json
from procflow.api.requests import path_list, principal_of, read_json_object
from procflow.api.schemas import ProcessData, problems
from procflow.model.data import JsonObject
from procflow.model.errors import InvalidParameter, InvalidRequestBody
from procflow.runtime import flowx_variants, metrics
from procflow.runtime.context import RuntimeContext
from procflow.runtime.copying import CopySpec
from procflow.runtime.starting import StartRequest, StartTarget, dry_run, start_process

router = APIRouter(tags=["start"], route_class=PlainParamsRoute)

MAX_IDEMPOTENCY_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        description="The same key with the same request answers the first instance again.",
    ),
]
FlowxPlatform = Annotated[
    str | None,
    Header(alias="Flowx-Platform", description="Recorded in the audit log, never required."),
]

START_ERRORS = problems(400, 401, 403, 404, 409, 413)
START_ANSWER = {"description": "The new instance", "headers": schemas.START_HEADERS}
START_BODY = schemas.body(ProcessData, {"loan": schemas.EXAMPLE_START_BODY}, required=False)


async def _start(
    request: Request,
    target: StartTarget,
    process_name: str,
    headers: tuple[str | None, str | None],
    copy: CopySpec | None = None,
    *,
    is_dry_run: bool = False,
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    idempotency_key, platform = headers
    start = StartRequest(
        target=target,
        process_name=process_name,
        body=body,
        copy=copy,
        idempotency_key=idempotency_key,
        platform=platform,
    )
    ctx: RuntimeContext = request.app.state.ctx
    if is_dry_run:
        prepared = await run_in_threadpool(dry_run, ctx, principal, start)
        return JsonResponse(dry_run_json(prepared))
    outcome = await run_in_threadpool(start_process, ctx, principal, start)
    metrics.observe_start_request(
        outcome.instance.definition_name, copy is not None, outcome.replayed
    )
    answer_headers = {"Location": f"/api/runtime/process/{outcome.instance.uuid}"}
    if outcome.replayed:
        answer_headers["Idempotent-Replayed"] = "true"
    return JsonResponse(
        start_response_json(outcome.instance, outcome.build), headers=answer_headers
    )


def _start_at(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise InvalidParameter("startAt must name a node.", parameter="startAt")
    return value


@router.post(
    "/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}/start",
    summary="Start a process on the app's active build (S1)",
    operation_id="startProcess",
    response_model=schemas.StartResponse,
    responses={200: START_ANSWER, **START_ERRORS},
    openapi_extra=START_BODY,
)
async def start_on_active_build(
    workspaceId: UUID,
    appId: UUID,
    processName: str,
    request: Request,
    idempotencyKey: IdempotencyKey = None,
    flowxPlatform: FlowxPlatform = None,
) -> Response:
    target = StartTarget(appId, workspace_id=workspaceId)
    return await _start(request, target, processName, (idempotencyKey, flowxPlatform))


@router.post(
    "/api/runtime/app/{appId}/build/{buildId}/process-name/{processName}/start",
    summary="Start a process pinned to a build (S2)",
    operation_id="startPinned",
    response_model=schemas.StartResponse,
    responses={200: START_ANSWER, **START_ERRORS},
    openapi_extra=START_BODY,
)
async def start_on_build(
    appId: UUID,
    buildId: UUID,
    processName: str,
    request: Request,
    idempotencyKey: IdempotencyKey = None,
    flowxPlatform: FlowxPlatform = None,
) -> Response:
    target = StartTarget(appId, build_id=buildId)
    return await _start(request, target, processName, (idempotencyKey, flowxPlatform))


@router.post(
    "/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}"
    "/start/copyDataFrom/{processInstanceId}",
    summary="Start with data copied from another instance, body merged on top (S3)",
    description=(
        "The new instance's data is the source's committed data with the body merged on top "
        "by JSON Merge Patch (RFC 7396). With `dryRun=true` the answer is a DryRunResponse "
        "and nothing is started."
    ),
    operation_id="startWithCopiedData",
    response_model=schemas.StartResponse | schemas.DryRunResponse,
    responses={200: START_ANSWER, **START_ERRORS},
    openapi_extra=schemas.body(ProcessData, {"rerun": schemas.EXAMPLE_COPY_BODY}, required=False),
)
async def start_with_copied_data(
    workspaceId: UUID,
    appId: UUID,
    processName: str,
    processInstanceId: UUID,
    request: Request,
    paramsToCopy: Annotated[
        str | None,
        Query(description="Copy only these paths (comma-separated).", examples=["applicant,loan"]),
    ] = None,
    withoutParams: Annotated[
        str | None,
        Query(description="Copy all but these paths (comma-separated).", examples=["decision"]),
    ] = None,
    dryRun: Annotated[
        bool, Query(description="Answer with the merged data; start nothing.")
    ] = False,
    idempotencyKey: IdempotencyKey = None,
    flowxPlatform: FlowxPlatform = None,
    startAt: Annotated[
        str | None,
        Query(
            description="Start with one token at this node instead of the start node "
            "(resume downstream); the start node's mandatory params are not checked."
        ),
    ] = None,
) -> Response:
    copy = CopySpec(
        source_uuid=processInstanceId,
        params_to_copy=path_list(paramsToCopy, "paramsToCopy"),
        without_params=path_list(withoutParams, "withoutParams") or (),
        start_at=_start_at(startAt),
    )
    target = StartTarget(appId, workspace_id=workspaceId)
    headers = (idempotencyKey, flowxPlatform)
    return await _start(request, target, processName, headers, copy, is_dry_run=dryRun)


@router.post(
    "/api/runtime/wks/{workspaceId}/app/{appId}/rdi/{resourceDefinitionId}"
    "/start/inherit-from/{processInstanceId}",
    summary="Start the process with this resourceDefinitionId, inheriting another's data",
    operation_id="startInheriting",
    response_model=schemas.StartResponse,
    responses={200: START_ANSWER, **START_ERRORS},
    openapi_extra=schemas.body(
        schemas.InheritFrom,
        {"some": {"paramsToInherit": {"paramsToCopy": ["applicant"], "withoutParams": []}}},
        required=False,
    ),
)
async def start_inheriting(
    workspaceId: UUID,
    appId: UUID,
    resourceDefinitionId: UUID,
    processInstanceId: UUID,
    request: Request,
    idempotencyKey: IdempotencyKey = None,
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request)
    copy = inherit_spec(processInstanceId, body)
    ctx: RuntimeContext = request.app.state.ctx
    outcome = await run_in_threadpool(
        flowx_variants.start_inheriting, ctx, principal, workspaceId, appId,
        resourceDefinitionId, copy, idempotencyKey,
    )  # fmt: skip
    headers = {"Location": f"/api/runtime/process/{outcome.instance.uuid}"}
    if outcome.replayed:
        # START_HEADERS documents it for every start, this one included.
        headers["Idempotent-Replayed"] = "true"
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
