"""Moving a token along a sequence flow."""

from __future__ import annotations

from procflow.engine.run import Run
from procflow.engine.tokens import arrived_at
from procflow.model.definition import Flow
from procflow.model.instance import Token

NO_BRANCH_TAKEN = "no_branch_taken"


def follow(run: Run, token: Token, flow: Flow) -> Token:
    """The token, arrived at the flow's target; the caller keeps moving it."""
    return run.put(arrived_at(token, flow.target))


def follow_only(run: Run, token: Token) -> Token | None:
    """Leave a node that has one way out (start, task, plain gateway)."""
    flows = run.definition.outgoing_flows(token.node_id)
    if not flows:
        run.fail(NO_BRANCH_TAKEN, "node has no outgoing flow", token.node_id, token)
        return None
    return follow(run, token, flows[0])
