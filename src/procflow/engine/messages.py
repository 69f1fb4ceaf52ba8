"""Waiting for messages: intermediate catch events, receive tasks, message boundary events
and the message branches of event-based gateways.

A token that arrives subscribes (a ``MESSAGE`` wait, and a ``Subscribe`` effect that the
runtime stores with the correlation key computed now, over the data as it is now). A
correlated message is ``MessageCorrelated`` naming the wait: its data is merged and the
token moves on, as a fired timer's does; what else the token waited for is cancelled.
"""

from __future__ import annotations

from procflow.engine.evaluate import EvaluationFailed, evaluate
from procflow.engine.events import MessageCorrelated, Subscribe
from procflow.engine.gateways import EXPRESSION_ERROR
from procflow.engine.moves import follow_only, move_to
from procflow.engine.run import Run
from procflow.engine.tokens import with_status
from procflow.model.data import merge_patch
from procflow.model.definition import BoundaryEvent, MessageCatchNode, MessageSpec
from procflow.model.errors import InstanceNotRunning, InvalidRequestBody, WaitNotFound
from procflow.model.instance import Token, Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState

# A key is compared as text: 42 and "42" correlate alike.
_KEY_TYPES = (str, int, float, bool)


class _KeyFailed(Exception):
    pass


def correlation_key(run: Run, spec: MessageSpec, node_id: str, token: Token) -> str | None:
    """The key computed over the data now; raises ``_KeyFailed`` after failing the
    instance with an incident at ``node_id`` (an expression error, or a key that is
    neither text nor a number)."""
    if spec.correlation_key is None:
        return None
    outcome = evaluate(spec.correlation_key, run.view(token))
    if isinstance(outcome, EvaluationFailed):
        message = f"correlation key of {node_id!r} ({spec.correlation_key.source!r}): "
        run.fail(EXPRESSION_ERROR, message + outcome.message, node_id, token)
        raise _KeyFailed()
    value = outcome.value
    if value is None:
        return None
    if not isinstance(value, _KEY_TYPES):
        message = f"correlation key of {node_id!r} gave {value!r}, not text or a number"
        run.fail(EXPRESSION_ERROR, message, node_id, token)
        raise _KeyFailed()
    return str(value).lower() if isinstance(value, bool) else str(value)


def subscribe(run: Run, spec: MessageSpec, node_id: str, token: Token) -> Wait | None:
    """Subscribe ``token`` for the message of ``node_id``; None when the key failed."""
    try:
        key = correlation_key(run, spec, node_id, token)
    except _KeyFailed:
        return None
    wait = run.record_wait(WaitKind.MESSAGE, node_id, token)
    run.effects.append(Subscribe(wait.id, spec.name, key, token.uuid, node_id))
    details = {"waitId": wait.id, "messageName": spec.name, "correlationKey": key}
    run.audit("message_subscribed", node_id, token, details)
    return wait


def wait_at_message_catch(run: Run, token: Token, node: MessageCatchNode) -> None:
    status = NodeStatus.WAITING_MESSAGE if node.receive_task else NodeStatus.WAITING_MESSAGE_EVENT
    token = run.put(with_status(token, status))
    subscribe(run, node.message, node.id, token)


def on_message_correlated(run: Run, event: MessageCorrelated) -> Token | None:
    """The token to keep moving (None when it stays, or the instance stopped)."""
    if run.state is not InstanceState.STARTED:
        raise InstanceNotRunning(state=run.state.value)
    wait = run.take_wait(event.wait_id)
    token = run.tokens.get(wait.token_id) if wait and wait.token_id is not None else None
    if wait is None or wait.kind is not WaitKind.MESSAGE or token is None:
        raise WaitNotFound(waitId=event.wait_id)
    if token.state is not TokenState.ACTIVE:
        raise WaitNotFound(waitId=event.wait_id)
    if not isinstance(event.data, dict):
        raise InvalidRequestBody("'data' must be a JSON object (a merge patch).", field="data")
    run.data = merge_patch(run.data, event.data)
    details = {"waitId": wait.id, "messageName": event.message_name,
               "dataKeys": sorted(event.data)}  # fmt: skip
    run.audit("message_correlated", wait.node_id, token, details)
    node = run.definition.nodes.get(wait.node_id or "")
    match node:
        case MessageCatchNode() if token.node_id == node.id:
            return follow_only(run, token)
        case MessageCatchNode():
            # An event-gateway branch: the token takes it, its sibling branches are cancelled.
            return follow_only(run, move_to(run, token, node.id))
        case BoundaryEvent():
            return _boundary(run, token, node)
        case _:
            raise WaitNotFound(waitId=event.wait_id)


def _boundary(run: Run, token: Token, boundary: BoundaryEvent) -> Token | None:
    details = {"attachedTo": boundary.attached_to, "interrupting": boundary.interrupting}
    run.audit("boundary_event_triggered", boundary.id, token, details)
    if boundary.interrupting:
        return move_to(run, token, boundary.id)
    # Non-interrupting: the activity goes on and the boundary listens again.
    assert boundary.message is not None
    subscribe(run, boundary.message, boundary.id, token)
    return run.create_token(boundary.id, scope_id=token.scope_id)
