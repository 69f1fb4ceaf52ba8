"""Entering and leaving activities that contain other tokens: embedded subprocesses, and
any activity once it is an instance of a multi-instance loop.

Every normal way out of an activity (rules done, an action executed, an external task
completed, a subprocess with nothing left inside) goes through ``leave_activity``: a plain
token follows its flow, an instance reports to its multi-instance host instead.
"""

from __future__ import annotations

from procflow.engine.leaving import leave_by_flows
from procflow.engine.moves import NO_BRANCH_TAKEN, follow
from procflow.engine.multi_instance import instance_done
from procflow.engine.run import Run
from procflow.engine.scopes import cancel_inside, loop_host, owner_of
from procflow.engine.timers import arm_boundaries
from procflow.engine.tokens import with_status
from procflow.model.definition import Flow, SubProcessNode
from procflow.model.instance import Token
from procflow.model.states import NodeStatus, TokenState


def leave_activity(run: Run, token: Token, flow: Flow | None = None) -> Token | None:
    """The token is done at its activity; the token to keep moving. ``flow``: the one an
    action chose; without it, the activity leaves by every flow that applies."""
    host = loop_host(run, token)
    if host is not None:
        return instance_done(run, host, token, flow)
    return follow(run, token, flow) if flow is not None else leave_by_flows(run, token)


def enter_subprocess(run: Run, token: Token, node: SubProcessNode) -> Token | None:
    """The token waits at the subprocess (EXECUTING, its boundaries armed) while a child
    token starts at the subprocess's start event; the child is the token to keep moving."""
    token = run.put(with_status(token, NodeStatus.EXECUTING))
    run.audit("subprocess_started", node.id, token)
    arm_boundaries(run, token, node.id)
    if run.stopped:
        return None
    starts = run.definition.inner_starts.get(node.id, ())
    if not starts:  # refused at deploy; a definition saved before may differ
        run.fail(NO_BRANCH_TAKEN, "the subprocess has no start event", node.id, token)
        return None
    return run.create_token(starts[0].id, scope_id=token.id)


def end_in_scope(run: Run, token: Token, terminate: bool) -> Token | None:
    """``token`` ended at an end event inside a subprocess: a terminate end event ends the
    rest of that scope (only), and a scope with nothing left running completes its
    subprocess, whose token leaves. The token to keep moving."""
    owner = owner_of(run, token)
    if owner is None or owner.state is not TokenState.ACTIVE:
        return None
    if terminate:
        cancel_inside(run, owner)
    if run.live_inside.get(owner.id):
        return None
    run.audit("subprocess_completed", owner.node_id, owner, {"terminateEndEvent": terminate})
    return leave_activity(run, owner)
