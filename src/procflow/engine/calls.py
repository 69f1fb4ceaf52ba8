"""Call activities: a token waits (EXECUTING) while a child instance runs.

The child is a separate instance with its own commands. Arriving, the token records a
``call`` wait and asks for the child (``StartChild``, carried out by the runtime as a job);
the child's uuid is derived from the caller's uuid and the wait id (``child_uuid``), so the
job is idempotent and the caller recognises its child's answer (``ChildEnded``) without
storing the child's uuid. The outcomes:

- finished: the child's data is merged into the caller's (RFC 7396), or set under
  ``output_key``, and the token moves on;
- failed or terminated: an incident (``child_failed``, ``child_terminated``) on the caller;
  retrying it re-runs the call activity, which starts a fresh child (the old one, its wait
  cancelled, is terminated by the runtime);
- an uncaught BPMN error in the child: thrown at the call activity, where an error boundary
  catches it, else the caller's own ``unhandled_error`` (which climbs further up).

An async call (``is_async``) starts the child the same way and moves on at once; no wait is
recorded, so nothing comes back.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from procflow.engine.activities import leave_activity
from procflow.engine.errors import throw_error
from procflow.engine.events import ChildEnded, ChildStartRefused, StartChild
from procflow.engine.run import Run
from procflow.engine.timers import arm_boundaries
from procflow.engine.tokens import with_status
from procflow.model.data import JsonObject, merge_patch, narrowed, set_path
from procflow.model.definition import CallActivityNode
from procflow.model.instance import Token, Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus

CHILD_FAILED = "child_failed"
CHILD_TERMINATED = "child_terminated"
# Incidents the runtime reports through ``ChildStartRefused``.
CALLED_ELEMENT_NOT_FOUND = "called_element_not_found"
CALL_DEPTH_EXCEEDED = "call_depth_exceeded"

# Fixed forever: child uuids are derived from it.
CHILD_NAMESPACE = UUID("0f3b5a52-6c1e-4d7e-9a0b-3c2d1e4f5a6b")

FINISHED, FAILED, TERMINATED, ERROR = "finished", "failed", "terminated", "error"


def child_uuid(caller_uuid: UUID, wait_id: str) -> UUID:
    """The uuid of the child started for this call wait: the same however often it is asked."""
    return uuid5(CHILD_NAMESPACE, f"{caller_uuid}/{wait_id}")


def child_input(run: Run, token: Token, node: CallActivityNode) -> JsonObject:
    """The data the child starts with: the caller's as the token sees it (with a
    multi-instance element and loop counter laid over it), narrowed by the node's params."""
    return narrowed(run.view(token), node.params_to_copy, node.without_params)


def enter_call(run: Run, token: Token, node: CallActivityNode) -> Token | None:
    """The token arrives at the call activity: the child is asked for; the token waits
    (None) or, for an async call, moves on at once."""
    if node.is_async:
        wait_id = f"w{run.next_wait_id}"  # a number of its own, though nothing waits on it
        run.next_wait_id += 1
        _start_child(run, token, node, wait_id)
        return leave_activity(run, token)
    token = run.put(with_status(token, NodeStatus.EXECUTING))
    wait = run.record_wait(WaitKind.CALL, node.id, token)
    _start_child(run, token, node, wait.id)
    arm_boundaries(run, token, node.id)
    return None


def _start_child(run: Run, token: Token, node: CallActivityNode, wait_id: str) -> None:
    data = child_input(run, token, node)
    start = StartChild(wait_id, token.uuid, node.id, node.called_element, node.binding, data,
                       node.is_async)  # fmt: skip
    run.effects.append(start)
    child = str(child_uuid(run.instance.uuid, wait_id))
    details = {"waitId": wait_id, "calledElement": node.called_element, "childUuid": child,
               "async": node.is_async}  # fmt: skip
    run.audit("call_activity_started", node.id, token, details)


def on_child_ended(run: Run, event: ChildEnded) -> Token | None:
    """The token to keep moving, or None (it waits no more, or the instance stopped)."""
    found = _call_wait(run, event.child_uuid)
    if found is None:
        run.changed = False  # the token left (a boundary fired, a retry): an old answer
        return None
    wait, token, node = found
    details = {"waitId": wait.id, "childUuid": str(event.child_uuid), "outcome": event.outcome}
    run.audit("child_ended", node.id, token, details)
    match event.outcome:
        case "finished":
            run.take_wait(wait.id)
            run.data = _merged_back(run.data, node, event.data)
            # A multi-instance call's instance reports to its host instead of leaving.
            return leave_activity(run, token)
        case "error":
            run.take_wait(wait.id)
            return throw_error(run, token, node.id, event.error_code, event.message)
        case "terminated":
            text = f"the child instance {event.child_uuid} was terminated"
            run.fail(CHILD_TERMINATED, _with_reason(text, event.message), node.id, token)
        case _:
            text = f"the child instance {event.child_uuid} failed"
            run.fail(CHILD_FAILED, _with_reason(text, event.message), node.id, token)
    return None


def on_child_start_refused(run: Run, event: ChildStartRefused) -> None:
    wait = run.waits.get(event.wait_id)
    token = run.tokens.get(wait.token_id) if wait and wait.token_id is not None else None
    if wait is None or token is None or run.state is not InstanceState.STARTED:
        # An async call: nothing waits for the child; the refusal is only recorded.
        details = {"waitId": event.wait_id, "type": event.incident_type,
                   "message": event.message}  # fmt: skip
        run.audit("child_start_refused", None, None, details)
        return
    assert wait.node_id is not None
    run.fail(event.incident_type, event.message, wait.node_id, token)


def _call_wait(run: Run, child: UUID) -> tuple[Wait, Token, CallActivityNode] | None:
    if run.state is not InstanceState.STARTED:
        return None
    for wait in run.waits.values():
        if wait.kind is WaitKind.CALL and child_uuid(run.instance.uuid, wait.id) == child:
            token = run.tokens.get(wait.token_id) if wait.token_id is not None else None
            node = run.definition.nodes.get(wait.node_id or "")
            if token is not None and isinstance(node, CallActivityNode):
                return wait, token, node
    return None


def _merged_back(data: JsonObject, node: CallActivityNode, child_data: JsonObject) -> JsonObject:
    if node.output_key is not None:
        return set_path(data, node.output_key, child_data)
    merged: JsonObject = merge_patch(data, child_data)
    return merged


def _with_reason(text: str, reason: str) -> str:
    return f"{text}: {reason}" if reason else text
