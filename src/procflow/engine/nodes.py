"""Running tokens forward: what each kind of node does with a token that arrives."""

from __future__ import annotations

from typing import assert_never

from procflow.engine.activities import end_in_scope, enter_subprocess, leave_activity
from procflow.engine.calls import enter_call
from procflow.engine.errors import enclosing_scope, throw_error
from procflow.engine.external import open_external_task
from procflow.engine.gateways import EXPRESSION_ERROR, decide, synchronize
from procflow.engine.inclusive import pass_inclusive, release_ready_join
from procflow.engine.messages import wait_at_message_catch
from procflow.engine.moves import follow_only
from procflow.engine.multi_instance import start_loop, without_locals
from procflow.engine.rules import RuleFailed, apply_rules
from procflow.engine.run import Run
from procflow.engine.scopes import loop_host
from procflow.engine.timers import arm_boundaries, wait_for_timers
from procflow.engine.tokens import completed, with_status
from procflow.model.definition import (
    BoundaryEvent,
    CallActivityNode,
    EndNode,
    EventBasedGateway,
    ExclusiveGateway,
    InclusiveGateway,
    MessageCatchNode,
    Node,
    ParallelGateway,
    StartNode,
    SubProcessNode,
    TaskNode,
    TimerCatchNode,
    UserTaskNode,
)
from procflow.model.instance import Token, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState

LOOP_LIMIT = "loop_limit"


def advance(run: Run, token: Token) -> None:
    """Move ``token``, and every token it spawns, until each one waits or the instance stops.
    Once all wait, an inclusive join that can expect no other token releases its own."""
    run.queue.append(token.id)
    while not run.stopped:
        _drain(run)
        if run.stopped or not run.definition.inclusive_joins or not release_ready_join(run):
            break


def _drain(run: Run) -> None:
    while run.queue and not run.stopped:
        current: Token | None = run.tokens[run.queue.popleft()]
        # A loop rather than recursion, so that a long chain of nodes cannot overflow the stack.
        while current is not None and current.state is TokenState.ACTIVE and not run.stopped:
            run.visits += 1
            if run.visits > run.visit_limit:
                _loop_limit(run, current)
                return
            current = visit(run, current)


def _loop_limit(run: Run, token: Token) -> None:
    message = f"more than {run.visit_limit} nodes visited in one step; the process loops"
    run.fail(LOOP_LIMIT, message, token.node_id, token)


def visit(run: Run, token: Token) -> Token | None:
    """Do what the token's node does; the token to keep moving, or None when it stops here."""
    node = run.definition.nodes[token.node_id]
    loop = run.definition.loops.get(node.id) if run.definition.loops else None
    if loop is not None and loop_host(run, token) is None:
        return start_loop(run, token, loop)
    return _visit_node(run, token, node)


def _visit_node(run: Run, token: Token, node: Node) -> Token | None:
    match node:
        case StartNode():
            return follow_only(run, token)
        case TaskNode():
            return _visit_task(run, token, node)
        case UserTaskNode():
            run.audit("token_arrived", node.id, token)
            arm_boundaries(run, token, node.id)
            return None
        case ExclusiveGateway() | ParallelGateway() | InclusiveGateway():
            return _pass_gateway(run, token, node)
        case EndNode():
            return end(run, token, node)
        case TimerCatchNode() | EventBasedGateway() | MessageCatchNode():
            _wait_for_event(run, token, node)
            return None
        case CallActivityNode():
            return enter_call(run, token, node)
        case BoundaryEvent():
            # Reached only when the boundary fired; the token leaves by its flow.
            return follow_only(run, token)
        case SubProcessNode():
            return enter_subprocess(run, token, node)
        case _:
            assert_never(node)


def _pass_gateway(
    run: Run, token: Token, node: ExclusiveGateway | ParallelGateway | InclusiveGateway
) -> Token | None:
    if isinstance(node, ExclusiveGateway):
        return decide(run, token, node)
    if isinstance(node, ParallelGateway):
        return synchronize(run, token, node)
    return pass_inclusive(run, token, node)


def _wait_for_event(
    run: Run, token: Token, node: TimerCatchNode | EventBasedGateway | MessageCatchNode
) -> None:
    if not isinstance(node, MessageCatchNode):
        wait_for_timers(run, token, node)
        return
    wait_at_message_catch(run, token, node)
    if node.receive_task and not run.stopped:  # a receive task is an activity: boundaries
        arm_boundaries(run, token, node.id)


def _visit_task(run: Run, token: Token, node: TaskNode) -> Token | None:
    """Rules run here and now; an async task waits for the job worker, an external task
    for a worker outside (and both arm the task's boundary events meanwhile)."""
    if node.external is not None:
        open_external_task(run, token, node)
    elif node.is_async:
        enqueue_task(run, token, node)
    else:
        return execute_task(run, token, node)
    arm_boundaries(run, token, node.id)
    return None


def execute_task(run: Run, token: Token, node: TaskNode) -> Token | None:
    """Run the task's rules; the data changes only if all of them succeed."""
    view = run.view(token)
    outcome = apply_rules(node.rules, view, run.scope)
    if isinstance(outcome, RuleFailed):
        run.fail(EXPRESSION_ERROR, outcome.describe(), node.id, token)
        return None
    run.data = without_locals(outcome, run.data, view, node.rules)
    run.audit("task_executed", node.id, token, {"rules": list(node.rule_names)})
    return leave_activity(run, token)


def enqueue_task(run: Run, token: Token, node: TaskNode) -> None:
    token = run.put(with_status(token, NodeStatus.EXECUTING))
    wait = run.add_wait(WaitKind.TASK, node.id, token, run.now)
    run.audit("job_enqueued", node.id, token, {"kind": WaitKind.TASK.value, "waitId": wait.id})


def end(run: Run, token: Token, node: EndNode) -> Token | None:
    """The token ends here; an error end event throws instead (the token to keep moving,
    if a boundary catches it), a terminate end event ends the whole instance (inside a
    subprocess: that subprocess only)."""
    if node.error_code is not None:
        run.audit("error_end_event_reached", node.id, token, {"errorCode": node.error_code})
        scope = enclosing_scope(run.definition, node.id)
        return throw_error(run, token, scope, node.error_code, f"error end event {node.id!r}")
    token = run.put(completed(token))
    run.audit("token_completed", node.id, token)
    if token.scope_id is not None:
        return end_in_scope(run, token, node.terminate)
    if node.terminate:
        # The other live tokens end as TERMINATED; the instance itself FINISHED.
        run.end_instance(InstanceState.FINISHED, TokenState.TERMINATED)
        run.audit("instance_finished", node.id, token, {"terminateEndEvent": True})
    elif run.active_count == 0:
        run.become(InstanceState.FINISHED)
        run.cancel_all_waits()  # the expiry timer, and anything else still pending
        run.audit("instance_finished", node.id, token)
    return None
