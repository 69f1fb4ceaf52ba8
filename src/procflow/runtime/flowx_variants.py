"""FlowX start variants: inherit-from by ``resourceDefinitionId``, and 4.6+ ui-actions.

Both translate FlowX's stable ids (``model/build.py``) to what the runtime already serves:
inherit-from is copyDataFrom on the process the id names; a ui-action is the user-task
action the id names on the token's node.
"""

from __future__ import annotations

from uuid import UUID

from procflow.engine.tokens import is_waiting
from procflow.model.build import resource_definition_id, ui_action_id
from procflow.model.data import JsonObject
from procflow.model.definition import ProcessDefinition, UserTaskNode
from procflow.model.errors import ActionNotAllowed, ProcessDefinitionNotFound, TokenNotFound
from procflow.model.instance import ProcessInstance, Token
from procflow.model.states import NodeStatus
from procflow.runtime.access import Principal, Role
from procflow.runtime.commands import execute_action, load_visible
from procflow.runtime.context import RuntimeContext
from procflow.runtime.copying import CopySpec
from procflow.runtime.starting import StartOutcome, StartRequest, StartTarget, start_process
from procflow.runtime.views import InstanceView


def start_inheriting(
    ctx: RuntimeContext,
    principal: Principal,
    workspace_id: UUID,
    app_id: UUID,
    rdi: UUID,
    copy: CopySpec,
    idempotency_key: str | None = None,
) -> StartOutcome:
    target = StartTarget(app_id, workspace_id=workspace_id)
    process_name = _process_named_by(ctx, principal, target, rdi)
    request = StartRequest(target, process_name, {}, copy, idempotency_key)
    return start_process(ctx, principal, request)


def _process_named_by(
    ctx: RuntimeContext, principal: Principal, target: StartTarget, rdi: UUID
) -> str:
    assert target.workspace_id is not None
    principal.require(target.workspace_id, Role.START, ProcessDefinitionNotFound())
    with ctx.store.read_transaction() as txn:
        build = ctx.catalog.active_build(txn, target.workspace_id, target.app_id)
    for source in build.definitions:
        if resource_definition_id(build.app_id, source.name) == rdi:
            return source.name
    raise ProcessDefinitionNotFound(resourceDefinitionId=str(rdi))


def ui_actions(
    definition: ProcessDefinition, instance: ProcessInstance, token: Token
) -> list[dict[str, str]]:
    """The actions a token waiting at a user task offers, with their stable ids. Only a
    token that waits there (ARRIVED) offers them: the host of a multi-instance user task
    (EXECUTING) waits for its instances, and the engine refuses actions on it."""
    node = definition.nodes.get(token.node_id)
    if not is_waiting(token, NodeStatus.ARRIVED) or not isinstance(node, UserTaskNode):
        return []
    return [
        {"name": action,
         "uiActionFlowxUuid": str(ui_action_id(instance.app_id, definition.name, node.id, action))}
        for action in node.actions
    ]  # fmt: skip


def execute_ui_action(
    ctx: RuntimeContext,
    principal: Principal,
    instance_uuid: UUID,
    token_uuid: UUID,
    ui_action: UUID,
    body: JsonObject,
) -> InstanceView:
    with ctx.store.read_transaction() as txn:
        instance = load_visible(txn, principal, Role.ACTION, instance_uuid)
        build = ctx.catalog.build(txn, instance.build_id)
    definition = ctx.catalog.definition_in(build, instance.definition_id)
    token = instance.token(token_uuid)
    if token is None:
        raise TokenNotFound(tokenUuid=str(token_uuid))
    offered = {a["uiActionFlowxUuid"]: a["name"] for a in ui_actions(definition, instance, token)}
    name = offered.get(str(ui_action))
    if name is None:
        raise ActionNotAllowed(
            "This UI action is not offered by the token's current node.",
            uiActionFlowxUuid=str(ui_action),
        )
    return execute_action(ctx, principal, instance_uuid, token_uuid, name, body)
