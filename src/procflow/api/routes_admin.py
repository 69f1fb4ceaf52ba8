"""Admin endpoints: workspaces, apps, build upload and activation (role ``admin``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.render import JsonResponse, build_json
from procflow.api.requests import principal_of, read_json_object
from procflow.model.data import JsonObject
from procflow.model.errors import InvalidRequestBody
from procflow.model.formats import uploaded_file_bytes
from procflow.runtime import admin_reads, deploy
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["admin"])


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


def _string(body: JsonObject, key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequestBody(f"'{key}' must be a non-empty string.")
    return value


def _optional_uuid(body: JsonObject, key: str) -> UUID | None:
    value = _string(body, key, required=False)
    try:
        return UUID(value) if value is not None else None
    except ValueError as error:
        raise InvalidRequestBody(f"'{key}' must be a UUID.") from error


def _files(body: JsonObject) -> dict[str, bytes]:
    files: Any = body.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise InvalidRequestBody("'files' must map file names to their text.")
    return {name: uploaded_file_bytes(name, text) for name, text in files.items()}


@router.post("/api/admin/workspaces", status_code=201, summary="Create a workspace")
async def create_workspace(request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request, empty_ok=False)
    name, workspace_id = _string(body, "name"), _optional_uuid(body, "id")
    assert name is not None
    workspace = await run_in_threadpool(
        deploy.create_workspace, _ctx(request).store, principal, name, workspace_id
    )
    return JsonResponse({"id": str(workspace.id), "name": workspace.name}, status_code=201)


@router.post("/api/admin/wks/{workspaceId}/apps", status_code=201, summary="Create an app")
async def create_app(workspaceId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request, empty_ok=False)
    name, app_id = _string(body, "name"), _optional_uuid(body, "id")
    assert name is not None
    app = await run_in_threadpool(
        deploy.create_app, _ctx(request).store, principal, workspaceId, name, app_id
    )
    return JsonResponse(
        {"id": str(app.id), "workspaceId": str(app.workspace_id), "name": app.name},
        status_code=201,
    )


@router.post(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds",
    status_code=201,
    summary="Upload a build: {files: {name: text}, activate: bool}",
)
async def upload_build(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request, empty_ok=False)
    activate = body.get("activate", False)
    if not isinstance(activate, bool):
        raise InvalidRequestBody("'activate' must be true or false.")
    ctx = _ctx(request)
    deployed = await run_in_threadpool(
        lambda: deploy.deploy_or_reuse(
            ctx.store,
            principal,
            workspaceId,
            appId,
            _files(body),
            activate=activate,
            now=ctx.clock(),
            build_id=_optional_uuid(body, "buildId"),
        )
    )
    body = build_json(deployed.build, active=activate or None)
    if deployed.existing:
        # The same files again: the existing build, not a duplicate (200, not 201).
        body["existing"] = True
        return JsonResponse(body, status_code=200)
    body["active"] = activate
    return JsonResponse(body, status_code=201)


@router.get("/api/admin/workspaces", summary="The workspaces the caller administers")
async def list_workspaces(request: Request) -> Response:
    principal = principal_of(request)
    found = await run_in_threadpool(admin_reads.workspaces, _ctx(request), principal)
    return JsonResponse({"content": [{"id": str(w.id), "name": w.name} for w in found]})


@router.get("/api/admin/wks/{workspaceId}/apps", summary="A workspace's apps")
async def list_apps(workspaceId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    found = await run_in_threadpool(admin_reads.apps, _ctx(request), principal, workspaceId)
    content = [{"id": str(a.id), "workspaceId": str(a.workspace_id), "name": a.name} for a in found]
    return JsonResponse({"content": content})


@router.get(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds",
    summary="An app's builds, newest first, with checksum, created at, active or not",
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


@router.get("/api/admin/wks/{workspaceId}/app/{appId}/builds/{buildId}", summary="One build")
async def get_build(workspaceId: UUID, appId: UUID, buildId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    found, active = await run_in_threadpool(
        admin_reads.build, _ctx(request), principal, workspaceId, appId, buildId
    )
    return JsonResponse(build_json(found, active=active))


_MEDIA_TYPES = {".bpmn": "application/xml", ".xml": "application/xml", ".json": "application/json"}


@router.get(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds/{buildId}/definitions/{processName}/source",
    summary="Download a definition's source, exactly as deployed",
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
)
async def set_active_build(workspaceId: UUID, appId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request, empty_ok=False)
    build_id = _optional_uuid(body, "buildId")
    if build_id is None:
        raise InvalidRequestBody("'buildId' is required.")
    ctx = _ctx(request)
    await run_in_threadpool(
        deploy.activate_build, ctx.store, principal, workspaceId, appId, build_id, ctx.clock()
    )
    return JsonResponse(
        {
            "workspaceId": str(workspaceId),
            "applicationId": str(appId),
            "buildId": str(build_id),
            "active": True,
        }
    )
