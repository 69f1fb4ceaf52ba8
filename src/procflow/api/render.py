"""JSON shapes of responses: the FlowX start response and what builds on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import orjson
from starlette.responses import JSONResponse

from procflow.model.build import Build, resource_definition_id
from procflow.model.instance import Incident, ProcessInstance, Token, Wait, locals_seen
from procflow.runtime.flowx_variants import ui_actions
from procflow.runtime.queries import LineageView
from procflow.runtime.starting import PreparedStart
from procflow.runtime.views import InstanceView
from procflow.store.port import AuditRecord, AuditSummary

Json = dict[str, Any]


class JsonResponse(JSONResponse):
    """orjson instead of json; a JSONResponse, so that OpenAPI shows the response_model."""

    def render(self, content: Any) -> bytes:
        # The trailing newline keeps curl output readable in a terminal; JSON parsers ignore it.
        return orjson.dumps(content, option=orjson.OPT_APPEND_NEWLINE)


def _text(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def token_json(token: Token, by_id: Mapping[int, Token] | None = None) -> Json:
    shown: Json = {
        "id": token.id,
        "uuid": str(token.uuid),
        "state": token.state.value,
        "statusCurrentNode": token.status.value,
        "currentNodeId": token.node_id,
        "parentTokenId": token.parent_id,
    }
    if token.scope_id is not None:
        shown["scopeTokenId"] = token.scope_id
    variables = locals_seen(token, by_id) if by_id is not None else token.locals
    if variables:
        shown["variables"] = variables
    return shown


def start_response_json(instance: ProcessInstance, build: Build) -> Json:
    """Exactly the FlowX start response (API.md), plus ``parentTokenId`` on tokens (and,
    inside subprocesses and multi-instance activities, ``scopeTokenId`` and ``variables``)."""
    by_id = {token.id: token for token in instance.tokens}
    return {
        "uuid": str(instance.uuid),
        "state": instance.state.value,
        "processDefinitionName": instance.definition_name,
        "processDefinitionFlowxUuid": str(instance.definition_id),
        "buildId": str(instance.build_id),
        "buildStatusAtStart": build.status,
        "applicationId": str(instance.app_id),
        "workspaceId": str(instance.workspace_id),
        "resourceDefinitionId": str(
            resource_definition_id(instance.app_id, instance.definition_name)
        ),
        "parentApplicationId": None,
        "rootApplicationId": None,
        "tokens": [token_json(t, by_id) for t in instance.tokens],
        "instanceMetadata": {
            "processInstanceId": instance.id,
            "processInstanceUuid": str(instance.uuid),
            "copiedFromUuid": _text(instance.lineage.copied_from_uuid),
            "lineageRootUuid": _text(instance.lineage.lineage_root_uuid),
            "parentProcessInstanceUuid": _text(instance.calling.parent_uuid),
            "rootProcessInstanceUuid": _text(instance.calling.root_uuid),
        },
    }


def incident_json(incident: Incident) -> Json:
    return incident.to_document()


def wait_json(instance: ProcessInstance, wait: Wait) -> Json:
    token = instance.token_by_id(wait.token_id) if wait.token_id is not None else None
    return {
        "id": wait.id,
        "kind": wait.kind.value,
        "nodeId": wait.node_id,
        "tokenUuid": str(token.uuid) if token is not None else None,
        "dueAt": wait.due_at.isoformat() if wait.due_at else None,
        "fired": wait.fired,
    }


def audit_json(record: AuditRecord) -> Json:
    return {
        "seq": record.seq,
        "type": record.type,
        "nodeId": record.node_id,
        "tokenUuid": _text(record.token_uuid),
        "details": record.details,
        "at": record.at.isoformat(),
    }


def status_json(view: InstanceView) -> Json:
    body = start_response_json(view.instance, view.build)
    if view.definition is not None:
        for token, shown in zip(view.instance.tokens, body["tokens"], strict=True):
            offered = ui_actions(view.definition, view.instance, token)
            if offered:
                shown["uiActions"] = offered
    body["createdAt"] = view.instance.created_at.isoformat()
    body["updatedAt"] = view.instance.updated_at.isoformat()
    body["version"] = view.instance.version
    body["incidents"] = [incident_json(i) for i in view.instance.incidents]
    body["waits"] = [wait_json(view.instance, w) for w in view.instance.waits]
    if view.audit_summary is not None:
        body["auditSummary"] = audit_summary_json(view.audit_summary)
    body["children"] = [
        {"uuid": str(child.uuid), "name": child.name, "state": child.state}
        for child in view.children
    ]
    return body


def audit_summary_json(summary: AuditSummary) -> Json:
    return {
        "events": summary.events,
        "byType": summary.by_type,
        "lastEventAt": summary.last_at.isoformat() if summary.last_at else None,
    }


def instance_summary_json(instance: ProcessInstance) -> Json:
    """One instance in a list: search results and lineage members."""
    return {
        "uuid": str(instance.uuid),
        "processInstanceId": instance.id,
        "processDefinitionName": instance.definition_name,
        "state": instance.state.value,
        "buildId": str(instance.build_id),
        "applicationId": str(instance.app_id),
        "copiedFromUuid": _text(instance.lineage.copied_from_uuid),
        "lineageRootUuid": _text(instance.lineage.lineage_root_uuid),
        "parentProcessInstanceUuid": _text(instance.calling.parent_uuid),
        "rootProcessInstanceUuid": _text(instance.calling.root_uuid),
        "createdAt": instance.created_at.isoformat(),
        "updatedAt": instance.updated_at.isoformat(),
    }


def lineage_json(view: LineageView) -> Json:
    instance = view.instance
    return {
        "uuid": str(instance.uuid),
        "copiedFromUuid": _text(instance.lineage.copied_from_uuid),
        "lineageRootUuid": _text(instance.lineage.lineage_root_uuid or instance.uuid),
        "ancestors": [instance_summary_json(m) for m in view.ancestors],
        "descendants": [instance_summary_json(m) for m in view.descendants],
    }


def build_json(build: Build, active: bool | None = None) -> Json:
    body: Json = {
        "buildId": str(build.id),
        "applicationId": str(build.app_id),
        "workspaceId": str(build.workspace_id),
        "status": build.status,
        "checksum": build.checksum,
        "createdAt": build.created_at.isoformat(),
        "processDefinitions": [
            {"name": d.name, "flowxUuid": str(d.id), "file": d.file_name} for d in build.definitions
        ],
    }
    if active is not None:
        body["active"] = active
    return body


def dry_run_json(prepared: PreparedStart) -> Json:
    resolved = prepared.resolved
    return {
        "dryRun": True,
        "processDefinitionName": resolved.definition.name,
        "processDefinitionFlowxUuid": str(resolved.source.id),
        "buildId": str(resolved.build.id),
        "buildStatusAtStart": resolved.build.status,
        "applicationId": str(resolved.build.app_id),
        "workspaceId": str(prepared.workspace_id),
        "startNodeId": prepared.start_node_id,
        "startAt": prepared.start_node_id if prepared.downstream else None,
        "data": prepared.data,
        "instanceMetadata": {
            "copiedFromUuid": _text(prepared.lineage.copied_from_uuid),
            "lineageRootUuid": _text(prepared.lineage.lineage_root_uuid),
        },
    }
