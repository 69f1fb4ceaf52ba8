"""Moving a token along a sequence flow."""

from __future__ import annotations

from procflow.engine.run import Run
from procflow.engine.scopes import cancel_inside
from procflow.engine.tokens import arrived_at
from procflow.model.definition import Flow
from procflow.model.instance import Token

NO_BRANCH_TAKEN = "no_branch_taken"


def follow(run: Run, token: Token, flow: Flow) -> Token:
    """The token, arrived at the flow's target; the caller keeps moving it."""
    return move_to(run, token, flow.target)


def move_to(run: Run, token: Token, node_id: str) -> Token:
    """The token, leaving its node for ``node_id``: what it waited for where it was (a
    boundary timer, a sibling branch of an event gateway) is cancelled, and so is whatever
    still runs inside it (an interrupted subprocess or multi-instance activity)."""
    detach(run, token)
    return run.put(arrived_at(token, node_id))


def detach(run: Run, token: Token) -> None:
    """Cancel what belongs to the token at its node: its waits and what runs inside it."""
    if run.live_inside.get(token.id):
        cancel_inside(run, token)
    if run.waits:
        run.cancel_token_waits(token)


def follow_only(run: Run, token: Token) -> Token | None:
    """Leave a node that has one way out (start, task, plain gateway)."""
    flows = run.definition.outgoing_flows(token.node_id)
    if not flows:
        run.fail(NO_BRANCH_TAKEN, "node has no outgoing flow", token.node_id, token)
        return None
    return follow(run, token, flows[0])
