"""Leaving an activity by the flows that apply: BPMN's implicit split (spec 10.3, 13.2.1).

An activity with several outgoing flows, or one with a condition, behaves as if an
inclusive gateway followed it: every flow without a condition is taken, a conditional one
when its condition is true, and the activity's default flow only when no other is. A user
task's flows that name an action are chosen by the action instead (``handlers.on_action``),
so they take no part in the split.
"""

from __future__ import annotations

from procflow.engine.gateways import NoFlow, fork
from procflow.engine.inclusive import choose_flows
from procflow.engine.moves import NO_BRANCH_TAKEN, detach, follow
from procflow.engine.run import Run
from procflow.model.definition import Flow, default_flow_of
from procflow.model.instance import Token


def split_flows(run: Run, node_id: str) -> tuple[Flow, ...]:
    """The flows an activity leaves by when no action chose one: those without an action
    (all of them, for an activity whose every flow names one: the first is followed)."""
    plain = run.definition.actionless_flows(node_id)
    return plain or run.definition.outgoing_flows(node_id)[:1]


def leave_by_flows(run: Run, token: Token) -> Token | None:
    """The token leaves its activity: along its one flow, or split over those that apply.
    The token to keep moving; None after a fork (the branches are queued) or an incident."""
    node_id = token.node_id
    outgoing = split_flows(run, node_id)
    if not outgoing:
        run.fail(NO_BRANCH_TAKEN, "node has no outgoing flow", node_id, token)
        return None
    if len(outgoing) == 1 and outgoing[0].condition is None:
        return follow(run, token, outgoing[0])
    node = run.definition.nodes[node_id]
    choice = choose_flows(
        outgoing, default_flow_of(node), run.view(token), run.scope, "the activity"
    )
    if isinstance(choice, NoFlow):
        run.fail(choice.incident_type, choice.message, node_id, token)
        return None
    run.audit("activity_split", node_id, token, {"flowIds": [flow.id for flow in choice]})
    if len(choice) == 1:
        return follow(run, token, choice[0])
    detach(run, token)  # its boundary events and whatever ran inside end with it
    fork(run, token, node, choice, "activity_forked")
    return None
