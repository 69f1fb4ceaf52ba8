"""Gateways: exclusive choice by condition, parallel fork and join (inclusive: ``inclusive``)."""

from __future__ import annotations

from dataclasses import dataclass

from procflow.engine.evaluate import EvaluationFailed, Scope
from procflow.engine.moves import NO_BRANCH_TAKEN, follow
from procflow.engine.run import Run
from procflow.engine.tokens import arrived_at, completed, with_status
from procflow.model.data import JsonObject
from procflow.model.definition import (
    ExclusiveGateway,
    Flow,
    InclusiveGateway,
    Node,
    ParallelGateway,
    ProcessDefinition,
)
from procflow.model.instance import Token
from procflow.model.states import NodeStatus, TokenState

EXPRESSION_ERROR = "expression_error"


@dataclass(frozen=True, slots=True)
class NoFlow:
    """Why an exclusive gateway could not choose: an incident type and a message."""

    incident_type: str
    message: str


# --- exclusive ----------------------------------------------------------------------------


def decide(run: Run, token: Token, node: ExclusiveGateway) -> Token | None:
    choice = choose_flow(run.definition, node, run.view(token), run.scope)
    if isinstance(choice, NoFlow):
        run.fail(choice.incident_type, choice.message, node.id, token)
        return None
    run.audit("gateway_decided", node.id, token, {"flowId": choice.id})
    return follow(run, token, choice)


def choose_flow(
    definition: ProcessDefinition, node: ExclusiveGateway, data: JsonObject, scope: Scope
) -> Flow | NoFlow:
    """The first flow, in definition order, whose condition is exactly true; else the default.
    A flow other than the default without a condition counts as true, as in Camunda (the
    definition carries a deploy warning about it)."""
    outgoing = definition.outgoing_flows(node.id)
    scope.bind(data, (flow.condition for flow in outgoing if flow.condition is not None))
    for flow in outgoing:
        if flow.condition is None:
            if flow.id == node.default_flow:
                continue
            return flow
        outcome = scope.evaluate(flow.condition)
        if isinstance(outcome, EvaluationFailed):
            return condition_failed(flow, outcome.message)
        if type(outcome.value) is not bool:
            return condition_failed(flow, f"returned {outcome.value!r}, not a bool")
        if outcome.value:
            return flow
    return _default_flow(definition, node)


def condition_failed(flow: Flow, message: str) -> NoFlow:
    source = flow.condition.source if flow.condition is not None else ""
    return NoFlow(EXPRESSION_ERROR, f"condition of flow {flow.id!r} ({source!r}): {message}")


def _default_flow(definition: ProcessDefinition, node: ExclusiveGateway) -> Flow | NoFlow:
    for flow in definition.outgoing_flows(node.id):
        if flow.id == node.default_flow:
            return flow
    return NoFlow(NO_BRANCH_TAKEN, "no condition was true and the gateway has no default flow")


# --- parallel -----------------------------------------------------------------------------


def synchronize(run: Run, token: Token, node: ParallelGateway) -> Token | None:
    """Join first (if several flows come in), then fork (if several go out)."""
    expected = len(run.definition.incoming_flows(node.id))
    if expected > 1:
        joined = join(run, token, node, expected)
        if joined is None:
            return None
        token = joined
    outgoing = run.definition.outgoing_flows(node.id)
    if len(outgoing) == 1:
        return follow(run, token, outgoing[0])
    fork(run, token, node, outgoing)
    return None


def fork(
    run: Run,
    token: Token,
    node: Node,
    outgoing: tuple[Flow, ...],
    audit_type: str = "gateway_forked",
) -> None:
    run.put(completed(token))
    children = [run.create_token(flow.target, parent_id=token.id) for flow in outgoing]
    run.queue.extend(child.id for child in children)
    details = {"tokenUuids": [str(child.uuid) for child in children]}
    run.audit(audit_type, node.id, token, details)


def join(run: Run, token: Token, node: ParallelGateway, expected: int) -> Token | None:
    """The token that continues once every branch has arrived; None while some still run."""
    waiting = run.waiting_at(node.id, token.scope_id)
    waiting.append(run.put(with_status(token, NodeStatus.WAITING_JOIN)).id)
    if len(waiting) < expected:
        return None
    arrived = [run.put(completed(run.tokens[token_id])) for token_id in waiting]
    waiting.clear()
    continuing = continuing_token(run, arrived, node)
    details = {"tokenUuids": [str(t.uuid) for t in arrived]}
    run.audit("gateway_joined", node.id, continuing, details)
    return continuing


def continuing_token(
    run: Run, arrived: list[Token], node: ParallelGateway | InclusiveGateway
) -> Token:
    """The branches' common parent comes back to life at the join, else a new token goes on."""
    parent_ids = {token.parent_id for token in arrived}
    parent_id = parent_ids.pop() if len(parent_ids) == 1 else None
    parent = run.tokens.get(parent_id) if parent_id is not None else None
    if parent is not None and parent.state is TokenState.INACTIVE:
        return run.put(arrived_at(parent, node.id))
    return run.create_token(node.id, scope_id=arrived[0].scope_id)
