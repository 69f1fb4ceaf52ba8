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
from procflow.runtime import deploy
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["admin"])

ADMIN_ERRORS = problems(400, 401, 403, 404, 409, 413)

LOAN_FILE = "loan_application.yaml"
EXAMPLE_UPLOAD = {
    "files": {LOAN_FILE: "format: procflow/v1\nname: loan_application\nnodes: [...]\n"},
    "activate": True,
}


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
    responses=ADMIN_ERRORS,
    openapi_extra=schemas.body(schemas.UploadBuild, {"loans": EXAMPLE_UPLOAD}),
)
async def upload_build(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_model(request, schemas.UploadBuild)
    files = {name: uploaded_file_bytes(name, text) for name, text in body.files.items()}
    ctx = _ctx(request)
    build = await run_in_threadpool(
        lambda: deploy.deploy_build(
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
    return JsonResponse(build_json(build, active=body.activate), status_code=201)


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
