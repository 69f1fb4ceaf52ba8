"""Admin endpoints: workspaces, apps, build upload and activation (role ``admin``)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api import schemas
from procflow.api.render import JsonResponse, build_json
from procflow.api.requests import principal_of, read_model
from procflow.api.schemas import problems
from procflow.model.formats import uploaded_file_bytes
from procflow.runtime import admin_reads, deploy
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["admin"])

ADMIN_ERRORS = problems(400, 401, 403, 404, 409, 413)

LOAN_FILE = "loan_application.yaml"
EXAMPLE_UPLOAD = {
    "files": {LOAN_FILE: "format: procflow/v1\nname: loan_application\nnodes: [...]\n"},
    "activate": True,
}


EXISTING_BUILD = {
    "model": schemas.ExistingBuild,
    "description": "The same files as a build the app has: that build, not a duplicate.",
}
# 400: a path parameter that is not a UUID.
READ_ERRORS = problems(400, 401, 403, 404)


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


@router.post(
    "/api/admin/workspaces",
    status_code=201,
    summary="Create a workspace",
    operation_id="createWorkspace",
    response_model=schemas.Workspace,
    responses=problems(400, 401, 403, 409, 413),
    openapi_extra=schemas.body(schemas.CreateWorkspace, {"sales": {"name": "sales"}}),
)
async def create_workspace(request: Request) -> Response:
    principal = principal_of(request)
    body = await read_model(request, schemas.CreateWorkspace)
    workspace = await run_in_threadpool(
        deploy.create_workspace, _ctx(request).store, principal, body.name, body.id
    )
    return JsonResponse({"id": str(workspace.id), "name": workspace.name}, status_code=201)


@router.post(
    "/api/admin/wks/{workspaceId}/apps",
    status_code=201,
    summary="Create an app",
    operation_id="createApp",
    response_model=schemas.App,
    responses=ADMIN_ERRORS,
    openapi_extra=schemas.body(schemas.CreateApp, {"loans": {"name": "loans"}}),
)
async def create_app(workspaceId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_model(request, schemas.CreateApp)
    app = await run_in_threadpool(
        deploy.create_app, _ctx(request).store, principal, workspaceId, body.name, body.id
    )
    return JsonResponse(
        {"id": str(app.id), "workspaceId": str(app.workspace_id), "name": app.name},
        status_code=201,
    )


@router.post(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds",
    status_code=201,
    summary="Upload a build: {files: {name: text}, activate: bool}",
    operation_id="uploadBuild",
    response_model=schemas.BuildInfo,
    responses={201: {"description": "A new build"}, 200: EXISTING_BUILD, **ADMIN_ERRORS},
    openapi_extra=schemas.body(schemas.UploadBuild, {"loans": EXAMPLE_UPLOAD}),
)
async def upload_build(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_model(request, schemas.UploadBuild)
    files = {name: uploaded_file_bytes(name, text) for name, text in body.files.items()}
    ctx = _ctx(request)
    deployed = await run_in_threadpool(
        lambda: deploy.deploy_or_reuse(
            ctx.store,
            principal,
            workspaceId,
            appId,
            files,
            activate=body.activate,
            now=ctx.clock(),
            build_id=body.buildId,
        )
    )
    answer = build_json(deployed.build, active=body.activate or None)
    answer["warnings"] = [warning.as_dict() for warning in deployed.warnings]
    if deployed.existing:
        # The same files again: the existing build, not a duplicate (200, not 201).
        answer["existing"] = True
        return JsonResponse(answer, status_code=200)
    answer["active"] = body.activate
    return JsonResponse(answer, status_code=201)


@router.get(
    "/api/admin/workspaces",
    summary="The workspaces the caller administers",
    operation_id="listWorkspaces",
    response_model=schemas.WorkspaceList,
    # A token without admin anywhere sees an empty list, not a 403.
    responses=problems(401),
)
async def list_workspaces(request: Request) -> Response:
    principal = principal_of(request)
    found = await run_in_threadpool(admin_reads.workspaces, _ctx(request), principal)
    return JsonResponse({"content": [{"id": str(w.id), "name": w.name} for w in found]})


@router.get(
    "/api/admin/wks/{workspaceId}/apps",
    summary="A workspace's apps",
    operation_id="listApps",
    response_model=schemas.AppList,
    responses=READ_ERRORS,
)
async def list_apps(workspaceId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    found = await run_in_threadpool(admin_reads.apps, _ctx(request), principal, workspaceId)
    content = [{"id": str(a.id), "workspaceId": str(a.workspace_id), "name": a.name} for a in found]
    return JsonResponse({"content": content})


@router.get(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds",
    summary="An app's builds, newest first, with checksum, created at, active or not",
    operation_id="listBuilds",
    response_model=schemas.BuildList,
    responses=READ_ERRORS,
)
async def list_builds(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    listing = await run_in_threadpool(
        admin_reads.builds, _ctx(request), principal, workspaceId, appId
    )
    content = [
        {"buildId": str(b.id), "applicationId": str(b.app_id), "workspaceId": str(b.workspace_id),
         "status": b.status, "checksum": b.checksum, "createdAt": b.created_at.isoformat(),
         "active": b.id == listing.active_build_id}
        for b in listing.builds
    ]  # fmt: skip
    return JsonResponse({"content": content})


@router.get(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds/{buildId}",
    summary="One build",
    operation_id="getBuild",
    response_model=schemas.BuildInfo,
    responses=READ_ERRORS,
)
async def get_build(workspaceId: UUID, appId: UUID, buildId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    found, active = await run_in_threadpool(
        admin_reads.build, _ctx(request), principal, workspaceId, appId, buildId
    )
    return JsonResponse(build_json(found, active=active))


_MEDIA_TYPES = {".bpmn": "application/xml", ".xml": "application/xml", ".json": "application/json"}
# The file as deployed, in the media type of its kind: a YAML or JSON definition is one
# document (an object), a BPMN file XML text.
SOURCE_ANSWER = {
    "description": "The definition's file, byte for byte as deployed.",
    "content": {
        "application/yaml": {"schema": {"type": "object", "description": "A YAML definition."}},
        "application/json": {"schema": {"type": "object", "description": "A JSON definition."}},
        "application/xml": {"schema": {"type": "string", "description": "BPMN 2.0 XML."}},
    },
    "headers": {
        "Content-Disposition": {
            "description": "``attachment`` with the file's name.",
            "schema": {"type": "string", "example": f'attachment; filename="{LOAN_FILE}"'},
        }
    },
}


@router.get(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds/{buildId}/definitions/{processName}/source",
    summary="Download a definition's source, exactly as deployed",
    operation_id="getDefinitionSource",
    response_class=Response,
    responses={200: SOURCE_ANSWER, **READ_ERRORS},
)
async def definition_source(
    workspaceId: UUID, appId: UUID, buildId: UUID, processName: str, request: Request
) -> Response:
    principal = principal_of(request)
    source = await run_in_threadpool(
        admin_reads.definition_source, _ctx(request), principal, workspaceId, appId, buildId,
        processName,
    )  # fmt: skip
    suffix = "." + source.file_name.rsplit(".", 1)[-1].lower() if "." in source.file_name else ""
    media_type = _MEDIA_TYPES.get(suffix, "application/yaml")
    safe_name = "".join(c for c in source.file_name if c.isprintable() and c not in '"\\\\')
    disposition = f'attachment; filename="{safe_name}"'
    return Response(source.text, media_type=media_type,
                    headers={"Content-Disposition": disposition})  # fmt: skip


@router.put(
    "/api/admin/wks/{workspaceId}/app/{appId}/active-build",
    summary="Set the app's active build: {buildId}",
    operation_id="setActiveBuild",
    response_model=schemas.ActiveBuild,
    responses=problems(400, 401, 403, 404, 413),
    openapi_extra=schemas.body(
        schemas.SetActiveBuild, {"build": {"buildId": schemas.EXAMPLE_BUILD}}
    ),
)
async def set_active_build(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_model(request, schemas.SetActiveBuild)
    ctx = _ctx(request)
    await run_in_threadpool(
        deploy.activate_build, ctx.store, principal, workspaceId, appId, body.buildId, ctx.clock()
    )
    return JsonResponse(
        {
            "workspaceId": str(workspaceId),
            "applicationId": str(appId),
            "buildId": str(body.buildId),
            "active": True,
        }
    )
