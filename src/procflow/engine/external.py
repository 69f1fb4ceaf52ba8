"""External tasks: a token waits (EXECUTING) while a worker outside Procflow does the work.

Arriving, the token records a wait and asks for its fetchable row (``OpenExternalTask``).
A worker's answer is an event naming the wait: completed (data merged, the token moves on),
failed with no retries left (an ``external_task_failed`` incident; the wait and its row stay,
so that retrying the incident makes the same task fetchable again), or a BPMN error.
Locks and retries left are the row's business (runtime/external_tasks.py): the engine only
hears the outcomes that move the instance.
"""

from __future__ import annotations

from procflow.engine.activities import leave_activity
from procflow.engine.errors import throw_error
from procflow.engine.events import (
    BpmnErrorThrown,
    CancelWaits,
    ExternalTaskCompleted,
    ExternalTaskFailed,
    OpenExternalTask,
)
from procflow.engine.run import Run
from procflow.engine.tokens import is_waiting, with_status
from procflow.model.data import merge_patch
from procflow.model.definition import TaskNode
from procflow.model.errors import InstanceNotRunning, InvalidRequestBody, WaitNotFound
from procflow.model.instance import Token, Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus

EXTERNAL_TASK_FAILED = "external_task_failed"


def open_external_task(run: Run, token: Token, node: TaskNode) -> None:
    assert node.external is not None
    token = run.put(with_status(token, NodeStatus.EXECUTING))
    wait = run.record_wait(WaitKind.EXTERNAL, node.id, token)
    work = node.external
    run.effects.append(OpenExternalTask(wait.id, work.topic, work.retries, token.uuid, node.id))
    run.audit("external_task_created", node.id, token, {"waitId": wait.id, "topic": work.topic})


def on_external_completed(run: Run, event: ExternalTaskCompleted) -> Token | None:
    """The token to keep moving (None when the instance stopped)."""
    wait, token = _taken(run, event.wait_id)
    run.data = merge_patch(run.data, _object(event.data))
    details = {"waitId": wait.id, "workerId": event.worker_id, "dataKeys": sorted(event.data)}
    run.audit("external_task_completed", wait.node_id, token, details)
    return leave_activity(run, token)


def on_external_failed(run: Run, event: ExternalTaskFailed) -> None:
    wait, token = _executing(run, event.wait_id)
    details = {"waitId": wait.id, "workerId": event.worker_id}
    run.audit("external_task_failed", wait.node_id, token, details)
    run.fail(EXTERNAL_TASK_FAILED, event.error_message, token.node_id, token)


def on_bpmn_error(run: Run, event: BpmnErrorThrown) -> Token | None:
    wait, token = _taken(run, event.wait_id)
    run.data = merge_patch(run.data, _object(event.data))
    details = {"waitId": wait.id, "workerId": event.worker_id, "errorCode": event.error_code}
    run.audit("bpmn_error_thrown", wait.node_id, token, details)
    return throw_error(run, token, token.node_id, event.error_code, event.error_message)


def _taken(run: Run, wait_id: str) -> tuple[Wait, Token]:
    """The wait, answered: no longer recorded, and its row deleted in this transaction."""
    wait, token = _executing(run, wait_id)
    run.take_wait(wait.id)
    run.effects.append(CancelWaits((wait.id,), (wait.kind.value,)))
    return wait, token


def _executing(run: Run, wait_id: str) -> tuple[Wait, Token]:
    if run.state is not InstanceState.STARTED:
        raise InstanceNotRunning(state=run.state.value)
    wait = run.waits.get(wait_id)
    token = run.tokens.get(wait.token_id) if wait and wait.token_id is not None else None
    if wait is None or wait.kind is not WaitKind.EXTERNAL or token is None:
        raise WaitNotFound(waitId=wait_id)
    if token.node_id != wait.node_id or not is_waiting(token, NodeStatus.EXECUTING):
        raise WaitNotFound(waitId=wait_id)
    return wait, token


def _object(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise InvalidRequestBody("'data' must be a JSON object (a merge patch).", field="data")
    return data
