"""BPMN 2.0 XML with diagram interchange for the console's diagrams.

A BPMN definition keeps its drawing; a YAML or JSON one is laid out automatically by the
same export as ``procflow export`` (model/export.py). Two ways in: by instance (role read
in its workspace, what the instance page needs) and by build (role admin, the definitions
page, next to the source download).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.requests import principal_of
from procflow.api.schemas import problems
from procflow.model.build import DefinitionSource
from procflow.model.errors import ProcessDefinitionNotFound
from procflow.model.export import export_file
from procflow.runtime import admin_reads, queries
from procflow.runtime.context import RuntimeContext

router = APIRouter()

READ_ERRORS = problems(400, 401, 403, 404)
DIAGRAM_ANSWER = {
    "description": "BPMN 2.0 XML of one process, with its diagram (laid out if it had none).",
    "content": {"application/xml": {"schema": {"type": "string", "description": "BPMN 2.0 XML."}}},
}


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


def _diagram(source: DefinitionSource) -> Response:
    xml = export_file(source.text.encode(), source.file_name, source.name)
    return Response(xml, media_type="application/xml")


@router.get(
    "/api/runtime/process/{uuid}/diagram",
    tags=["instances"],
    summary="The BPMN diagram of the definition an instance runs on",
    operation_id="getInstanceDiagram",
    response_class=Response,
    responses={200: DIAGRAM_ANSWER, **READ_ERRORS},
)
async def instance_diagram(uuid: UUID, request: Request) -> Response:
    principal = principal_of(request)
    view = await run_in_threadpool(queries.instance_view, _ctx(request), principal, uuid)
    name = view.instance.definition_name
    source = view.build.definition_named(name)
    if source is None:
        # A build never loses a definition; kept so a corrupted row answers, not crashes.
        raise ProcessDefinitionNotFound(processName=name)
    return await run_in_threadpool(_diagram, source)


@router.get(
    "/api/admin/wks/{workspaceId}/app/{appId}/builds/{buildId}/definitions/{processName}/diagram",
    tags=["admin"],
    summary="A definition of a build as BPMN XML with its diagram",
    operation_id="getDefinitionDiagram",
    response_class=Response,
    responses={200: DIAGRAM_ANSWER, **READ_ERRORS},
)
async def definition_diagram(
    workspaceId: UUID, appId: UUID, buildId: UUID, processName: str, request: Request
) -> Response:
    principal = principal_of(request)
    source = await run_in_threadpool(
        admin_reads.definition_source, _ctx(request), principal, workspaceId, appId, buildId,
        processName,
    )  # fmt: skip
    return await run_in_threadpool(_diagram, source)
