"""One handler per event: check that the command is valid here, then move the instance.

Invalid commands raise domain errors (the runtime refuses them and saves nothing); process
failures never raise, they become incidents on the instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from procflow.engine.activities import leave_activity
from procflow.engine.events import ActionExecuted, JobCompleted, JobFailed, Start
from procflow.engine.nodes import advance, execute_task
from procflow.engine.run import Run
from procflow.engine.timers import schedule_expiry
from procflow.engine.tokens import is_waiting
from procflow.model.data import merge_patch
from procflow.model.definition import (
    BoundaryEvent,
    Flow,
    ProcessDefinition,
    StartNode,
    TaskNode,
    UserTaskNode,
)
from procflow.model.errors import (
    ActionNotAllowed,
    InstanceNotRunning,
    InvalidRequestBody,
    StartNodeNotFound,
    TokenNotWaiting,
    WaitNotFound,
)
from procflow.model.instance import Token, Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus


def on_start(run: Run, event: Start) -> None:
    if run.state is not InstanceState.CREATED:
        raise InstanceNotRunning(state=run.state.value)
    node = run.definition.nodes.get(event.start_node_id)
    if event.downstream:
        allowed = is_resume_node(node, run.definition)
    else:
        allowed = isinstance(node, StartNode)
    if not allowed:
        raise StartNodeNotFound(startNodeId=event.start_node_id)
    run.become(InstanceState.STARTED)
    token = run.create_token(event.start_node_id)
    details = {"startAt": event.start_node_id} if event.downstream else {}
    run.audit("instance_started", event.start_node_id, token, details)
    schedule_expiry(run)
    advance(run, token)


def is_resume_node(node: object, definition: ProcessDefinition | None = None) -> bool:
    """Where a downstream start may put its token: any node a token can stand on by itself.
    A boundary event only exists attached to a running activity, and a node inside a
    subprocess only within its subprocess's token, so neither is one."""
    if node is None or isinstance(node, BoundaryEvent):
        return False
    inside = definition is not None and definition.scope_of(getattr(node, "id", "")) is not None
    return not inside


def on_action(run: Run, event: ActionExecuted) -> None:
    _require_started(run)
    token = run.token(event.token_uuid)
    node = _user_task_waiting(run, token)
    if event.action not in node.actions:
        raise ActionNotAllowed(action=event.action, allowed=list(node.actions))
    if not isinstance(event.body, Mapping):
        raise InvalidRequestBody()
    run.data = merge_patch(run.data, event.body)
    details = {"action": event.action, "bodyKeys": sorted(event.body)}
    run.audit("action_executed", node.id, token, details)
    flow = action_flow(run.definition.outgoing_flows(node.id), event.action)
    # An action with no flow of its own (e.g. "save") changes the data; the token stays.
    # A flow without an action is the fallback: the task leaves by all that apply.
    if flow is not None:
        moved = leave_activity(run, token, flow if flow.action is not None else None)
        if moved is not None:
            advance(run, moved)


def action_flow(outgoing: tuple[Flow, ...], action: str) -> Flow | None:
    """The flow named by the action; flows without an action are the fallback."""
    if not any(flow.action is not None for flow in outgoing):
        return outgoing[0] if outgoing else None
    chosen = [flow for flow in outgoing if flow.action == action]
    chosen = chosen or [flow for flow in outgoing if flow.action is None]
    return chosen[0] if chosen else None


def on_job_completed(run: Run, event: JobCompleted) -> None:
    token, node = _async_task_executing(run, event.wait_id)
    moved = execute_task(run, token, node)
    if moved is not None:
        advance(run, moved)


def on_job_failed(run: Run, event: JobFailed) -> None:
    """The worker gave up on a job (an async task, or a firing that kept failing): the
    instance fails at the wait's node, and a retry of the incident runs it again."""
    _require_started(run)
    wait = run.take_wait(event.wait_id)
    if wait is None:
        raise WaitNotFound(waitId=event.wait_id)
    token = run.tokens.get(wait.token_id) if wait.token_id is not None else None
    run.fail("job_failed", event.error, wait.node_id or "", token)


def _async_task_executing(run: Run, wait_id: str) -> tuple[Token, TaskNode]:
    _require_started(run)
    wait = _take_wait(run, wait_id, WaitKind.TASK)
    token = run.tokens.get(wait.token_id) if wait.token_id is not None else None
    if token is None:
        raise WaitNotFound(waitId=wait_id)
    node = run.definition.nodes.get(token.node_id)
    if not isinstance(node, TaskNode) or not is_waiting(token, NodeStatus.EXECUTING):
        raise TokenNotWaiting(**_where(token))
    return token, node


def _take_wait(run: Run, wait_id: str, kind: WaitKind) -> Wait:
    """The fired wait, removed from the instance. A wait that is gone (cancelled when its
    token left, or fired already) makes the job obsolete: like Temporal's timer fired after
    its cancel, it is ignored."""
    wait = run.take_wait(wait_id)
    if wait is None or wait.kind is not kind:
        raise WaitNotFound(waitId=wait_id)
    return wait


def _require_started(run: Run) -> None:
    if run.state is not InstanceState.STARTED:
        raise InstanceNotRunning(state=run.state.value)


def _user_task_waiting(run: Run, token: Token) -> UserTaskNode:
    node = run.definition.nodes.get(token.node_id)
    if not isinstance(node, UserTaskNode) or not is_waiting(token, NodeStatus.ARRIVED):
        raise TokenNotWaiting(**_where(token))
    return node


def _where(token: Token) -> dict[str, Any]:
    return {
        "tokenUuid": str(token.uuid),
        "nodeId": token.node_id,
        "state": token.state.value,
        "status": token.status.value,
    }
