"""Arming timers: catch events, boundary timers, event-based gateways, expiry.

A timer is a wait (``Run.add_wait``) whose job the worker fires at its due time as
``TimerFired`` (``engine.firing``). The engine decides everything else: a timer whose token
has left was cancelled with it (``move_to``), and a firing for a wait the instance no longer
has is ignored (``WaitNotFound``).
"""

from __future__ import annotations

from datetime import datetime

from procflow.engine.evaluate import EvaluationFailed, evaluate
from procflow.engine.gateways import EXPRESSION_ERROR
from procflow.engine.messages import subscribe
from procflow.engine.run import Run
from procflow.engine.scopes import loop_host
from procflow.engine.tokens import with_status
from procflow.model.definition import EventBasedGateway, Node, TimerCatchNode, message_of, timer_of
from procflow.model.instance import Token, Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from procflow.model.timers import InvalidTimer, TimerKind, TimerSpec, first_due

INVALID_TIMER = "invalid_timer"


# --- arming -------------------------------------------------------------------------------


def resolve(run: Run, timer: TimerSpec, node_id: str, token: Token | None) -> str | None:
    """The timer's value: the literal, or what its CEL expression yields over the data.
    None after failing the instance with an incident at ``node_id``."""
    if timer.expression is None:
        return timer.value
    outcome = evaluate(timer.expression, run.view(token))
    if isinstance(outcome, EvaluationFailed):
        message = f"timer of {node_id!r} ({timer.value!r}): {outcome.message}"
        run.fail(EXPRESSION_ERROR, message, node_id, token)
        return None
    if not isinstance(outcome.value, str):
        given = f"gave {outcome.value!r}, not a {timer.kind} string"
        message = f"timer of {node_id!r} ({timer.value!r}) {given}"
        run.fail(INVALID_TIMER, message, node_id, token)
        return None
    return outcome.value


def due_time(
    run: Run, timer: TimerSpec, value: str, node_id: str, token: Token | None
) -> datetime | None:
    try:
        return first_due(timer.kind, value, run.now)
    except InvalidTimer as error:
        run.fail(INVALID_TIMER, f"timer of {node_id!r}: {error}", node_id, token)
        return None


def arm(run: Run, timer: TimerSpec, node_id: str, token: Token) -> Wait | None:
    """Schedule the timer of ``node_id`` for ``token``; None when it failed the instance."""
    value = resolve(run, timer, node_id, token)
    if value is None:
        return None
    due = due_time(run, timer, value, node_id, token)
    if due is None:
        return None
    repeat = value if timer.kind in (TimerKind.CYCLE, TimerKind.CRON) else None
    wait = run.add_wait(WaitKind.TIMER, node_id, token, due, repeat=repeat)
    run.audit("timer_scheduled", node_id, token, {"waitId": wait.id, "dueAt": due.isoformat()})
    return wait


def wait_for_timers(run: Run, token: Token, node: TimerCatchNode | EventBasedGateway) -> None:
    if isinstance(node, TimerCatchNode):
        wait_at_catch(run, token, node)
    else:
        wait_at_event_gateway(run, token, node)


def wait_at_catch(run: Run, token: Token, node: TimerCatchNode) -> None:
    token = run.put(with_status(token, NodeStatus.WAITING_TIMER_EVENT))
    arm(run, node.timer, node.id, token)


def wait_at_event_gateway(run: Run, token: Token, node: EventBasedGateway) -> None:
    """One wait per branch, a timer or a message subscription; the first to fire takes the
    token, the others are cancelled (``move_to``)."""
    targets = [run.definition.nodes[flow.target] for flow in run.definition.outgoing_flows(node.id)]
    only_timers = all(timer_of(target) is not None for target in targets)
    status = NodeStatus.WAITING_TIMER_EVENT if only_timers else NodeStatus.WAITING_MESSAGE_EVENT
    token = run.put(with_status(token, status))
    for target in targets:
        if not _listen(run, target, target.id, token):
            return


def _listen(run: Run, node: Node, node_id: str, token: Token) -> bool:
    """Arm the node's timer or subscribe to its message (whichever it has); False when
    that failed the instance."""
    timer, message = timer_of(node), message_of(node)
    if timer is not None:
        return arm(run, timer, node_id, token) is not None
    if message is not None:
        return subscribe(run, message, node_id, token) is not None
    return True


def arm_boundaries(run: Run, token: Token, activity_id: str) -> None:
    """A token stops at an activity: its boundary timers start counting, its message
    boundaries listen (error boundaries need nothing until an error is thrown)."""
    if loop_host(run, token) is not None:
        return  # an instance of a multi-instance activity: its boundaries are its host's
    for boundary in run.definition.boundaries_of(activity_id):
        if not _listen(run, boundary, boundary.id, token):
            return


def schedule_expiry(run: Run) -> None:
    """FlowX ``expiryTime``: counted from the start."""
    expiry = run.definition.expiry_time
    if expiry is None:
        return
    try:
        due = first_due(TimerKind.DURATION, expiry, run.now)
    except InvalidTimer as error:  # checked at deploy; a definition saved before may differ
        run.fail(INVALID_TIMER, f"expiryTime: {error}", run.definition.start_nodes[0].id, None)
        return
    run.add_wait(WaitKind.EXPIRY, None, None, due)


def expire(run: Run) -> None:
    run.end_instance(InstanceState.EXPIRED, TokenState.EXPIRED)
    run.audit("instance_expired", details={"expiryTime": run.definition.expiry_time})
