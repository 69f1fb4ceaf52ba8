"""Timers firing: the token at a catch event moves on, an event-gateway branch wins, a
boundary event interrupts its activity (or spawns a token beside it), an instance expires."""

from __future__ import annotations

from procflow.engine.events import TimerFired
from procflow.engine.moves import follow_only, move_to
from procflow.engine.nodes import advance
from procflow.engine.run import Run
from procflow.engine.timers import expire
from procflow.model.definition import BoundaryEvent, TimerCatchNode
from procflow.model.errors import InstanceNotRunning, WaitNotFound
from procflow.model.instance import Token, Wait, WaitKind
from procflow.model.states import InstanceState, TokenState
from procflow.model.timers import next_due


def on_timer_fired(run: Run, event: TimerFired) -> None:
    if run.state is not InstanceState.STARTED:
        raise InstanceNotRunning(state=run.state.value)
    wait = run.take_wait(event.wait_id)
    if wait is None:
        raise WaitNotFound(waitId=event.wait_id)
    if wait.kind is WaitKind.EXPIRY:
        expire(run)
        return
    token = run.tokens.get(wait.token_id) if wait.token_id is not None else None
    node = run.definition.nodes.get(wait.node_id or "")
    if wait.kind is not WaitKind.TIMER or token is None or token.state is not TokenState.ACTIVE:
        raise WaitNotFound(waitId=event.wait_id)
    run.audit("timer_fired", node.id if node else None, token, {"waitId": wait.id})
    match node:
        case TimerCatchNode() if token.node_id == node.id:
            _leave(run, token)
        case TimerCatchNode():
            # An event-gateway branch: the token takes it, its sibling branches are cancelled.
            _leave(run, move_to(run, token, node.id))
        case BoundaryEvent():
            _fire_boundary(run, token, node, wait)
        case _:
            raise WaitNotFound(waitId=event.wait_id)


def _leave(run: Run, token: Token) -> None:
    moved = follow_only(run, token)
    if moved is not None:
        advance(run, moved)


def _fire_boundary(run: Run, token: Token, boundary: BoundaryEvent, wait: Wait) -> None:
    details = {"attachedTo": boundary.attached_to, "interrupting": boundary.interrupting}
    run.audit("boundary_event_triggered", boundary.id, token, details)
    if boundary.interrupting:
        # The activity is cancelled: its token leaves by the boundary, and whatever else it
        # waited for there (its task job, the other boundaries) goes with it.
        advance(run, move_to(run, token, boundary.id))
        return
    _repeat(run, token, boundary, wait)
    advance(run, run.create_token(boundary.id, scope_id=token.scope_id))


def _repeat(run: Run, token: Token, boundary: BoundaryEvent, wait: Wait) -> None:
    """A non-interrupting cycle timer arms its next occurrence, while repetitions last."""
    if boundary.timer is None or wait.repeat is None or wait.due_at is None:
        return
    fired = wait.fired + 1
    due = next_due(boundary.timer.kind, wait.repeat, wait.due_at, fired)
    if due is not None:
        run.add_wait(WaitKind.TIMER, boundary.id, token, due, fired=fired, repeat=wait.repeat)
