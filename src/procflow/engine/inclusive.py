"""The inclusive gateway: fork on every true condition, join what can still arrive.

As a join it never counts branches: a token that arrives waits (``WAITING_JOIN``), and the
waiting tokens are released together once no other live token of the instance can still
reach the gateway (``ProcessDefinition.upstream_of``). Whether one can only changes when a
token moves, ends or is consumed, so ``release_ready_join`` is asked each time the queue of
a step drains (``nodes.advance``), never while tokens are still moving.
"""

from __future__ import annotations

from procflow.engine.evaluate import EvaluationFailed, Scope
from procflow.engine.gateways import NoFlow, condition_failed, continuing_token, fork
from procflow.engine.moves import NO_BRANCH_TAKEN, follow
from procflow.engine.run import Run
from procflow.engine.tokens import completed, with_status
from procflow.model.data import JsonObject
from procflow.model.definition import Flow, InclusiveGateway, ProcessDefinition
from procflow.model.instance import Token
from procflow.model.states import NodeStatus, TokenState

# Tokens that may still move on: running ones and those of an instance on hold.
_LIVE = (TokenState.ACTIVE, TokenState.ON_HOLD)


def pass_inclusive(run: Run, token: Token, node: InclusiveGateway) -> Token | None:
    """A join waits (released later, all together); a gateway with one incoming flow forks."""
    if len(run.definition.incoming_flows(node.id)) > 1:
        waiting = run.waiting_at(node.id, token.scope_id)
        waiting.append(run.put(with_status(token, NodeStatus.WAITING_JOIN)).id)
        return None
    return fork_inclusive(run, token, node)


def fork_inclusive(run: Run, token: Token, node: InclusiveGateway) -> Token | None:
    """The token, moved along the one flow taken; None after a fork into several (they are
    queued) or an incident."""
    choice = flows_taken(run.definition, node, run.view(token), run.scope)
    if isinstance(choice, NoFlow):
        run.fail(choice.incident_type, choice.message, node.id, token)
        return None
    if len(run.definition.outgoing_flows(node.id)) > 1:  # a choice was made
        run.audit("gateway_decided", node.id, token, {"flowIds": [flow.id for flow in choice]})
    if len(choice) == 1:
        return follow(run, token, choice[0])
    fork(run, token, node, choice)
    return None


def flows_taken(
    definition: ProcessDefinition, node: InclusiveGateway, data: JsonObject, scope: Scope
) -> tuple[Flow, ...] | NoFlow:
    return choose_flows(definition.outgoing_flows(node.id), node.default_flow, data, scope)


def choose_flows(
    outgoing: tuple[Flow, ...],
    default_flow: str | None,
    data: JsonObject,
    scope: Scope,
    owner: str = "the gateway",
) -> tuple[Flow, ...] | NoFlow:
    """Every flow but the default whose condition is exactly true (no condition: always), in
    definition order; else the default flow alone. Shared by the inclusive gateway and the
    implicit split of an activity (``engine.leaving``), which BPMN defines alike."""
    scope.bind(data, (flow.condition for flow in outgoing if flow.condition is not None))
    taken: list[Flow] = []
    for flow in outgoing:
        if flow.id == default_flow:
            continue
        if flow.condition is not None:
            outcome = scope.evaluate(flow.condition)
            if isinstance(outcome, EvaluationFailed):
                return condition_failed(flow, outcome.message)
            if type(outcome.value) is not bool:
                return condition_failed(flow, f"returned {outcome.value!r}, not a bool")
            if not outcome.value:
                continue
        taken.append(flow)
    if taken:
        return tuple(taken)
    default = [flow for flow in outgoing if flow.id == default_flow]
    if default:
        return (default[0],)
    return NoFlow(NO_BRANCH_TAKEN, f"no condition was true and {owner} has no default flow")


def release_ready_join(run: Run) -> bool:
    """Release the first inclusive join (in definition order) whose waiting tokens can expect
    no other; its continuing token is queued. Whether one was released."""
    for join_id in run.definition.inclusive_joins:
        for scope_id, waiting in run.joins_waiting_at(join_id):
            if not _more_can_arrive(run, join_id, scope_id, waiting):
                node = run.definition.nodes[join_id]
                assert isinstance(node, InclusiveGateway)
                _release(run, node, waiting)
                return True
    return False


def _more_can_arrive(run: Run, join_id: str, scope_id: int | None, waiting: list[int]) -> bool:
    """Whether a live token of the join's scope (the same subprocess or multi-instance
    instance) can still reach it. Tokens of other scopes never can: flows stay inside their
    scope, and what runs deeper inside is stood for by its owner's token, in this scope."""
    upstream = run.definition.upstream_of(join_id)
    return any(
        token.state in _LIVE
        and token.scope_id == scope_id
        and token.node_id in upstream
        and token.id not in waiting
        for token in run.tokens.values()
    )


def _release(run: Run, node: InclusiveGateway, waiting: list[int]) -> None:
    arrived = [run.tokens[token_id] for token_id in waiting]
    waiting.clear()
    token = _continuing(run, arrived, node)
    run.audit("gateway_joined", node.id, token, {"tokenUuids": [str(t.uuid) for t in arrived]})
    moved = fork_inclusive(run, token, node)
    if moved is not None:
        run.queue.append(moved.id)


def _continuing(run: Run, arrived: list[Token], node: InclusiveGateway) -> Token:
    """A lone token goes on itself. Several: their parent comes back to life, as at a
    parallel join, but only if they are all of its branches (some of a parallel fork's
    branches may meet here while the others still run elsewhere); else a new token."""
    if len(arrived) == 1:
        return run.put(with_status(arrived[0], NodeStatus.ARRIVED))
    ended = [run.put(completed(token)) for token in arrived]
    parent_ids = {token.parent_id for token in ended}
    parent_id = parent_ids.pop() if len(parent_ids) == 1 else None
    branches = {t.id for t in run.tokens.values() if t.parent_id == parent_id}
    if parent_id is not None and branches == {token.id for token in ended}:
        return continuing_token(run, ended, node)
    return run.create_token(node.id, scope_id=arrived[0].scope_id)
