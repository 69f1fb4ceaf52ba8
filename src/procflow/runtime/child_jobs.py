"""The jobs that hand work between a parent instance and its children (call activities).

Parent and child are separate instances, each changed by its own commands, so every
hand-over is a job written in the transaction of the step that causes it:

- ``call_start``: a call activity asked for a child (``StartChild``); keyed by the parent
  and its wait, so it is queued once; the child's uuid is derived from the same pair.
- ``child_ended``: a child reached FINISHED, FAILED or TERMINATED; keyed by the child and
  its version, so each ending is told to the parent once.
- ``cascade``: terminate, hold or unhold a descendant because its parent was; one job per
  child, and each child's own step queues the jobs of its children, so a deep tree is
  never one giant transaction.

This module only shapes jobs (no pipeline import, so ``effects`` and ``pipeline`` may use
it); runtime/children.py runs them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from procflow.engine.calls import ERROR, FAILED, FINISHED, TERMINATED, child_uuid
from procflow.engine.errors import UNHANDLED_ERROR
from procflow.engine.events import Event, Hold, StartChild, Terminate, Unhold
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState
from procflow.store.port import NewJob, StoreTxn

CALL_START = "call_start"
CHILD_ENDED = "child_ended"
CASCADE = "cascade"

_ENDINGS = {
    InstanceState.FINISHED: FINISHED,
    InstanceState.FAILED: FAILED,
    # A child past its expiryTime never finishes: for its caller that is a failure.
    InstanceState.EXPIRED: FAILED,
    InstanceState.TERMINATED: TERMINATED,
    InstanceState.DISMISSED: TERMINATED,
}
# Which children each cascaded operation applies to (the others it would not change).
_CASCADE_STATES = {
    "terminate": {"CREATED", "STARTED", "ON_HOLD", "FAILED"},
    "hold": {"STARTED"},
    "unhold": {"ON_HOLD"},
}


def call_start_job(parent_uuid: UUID, effect: StartChild, now: datetime) -> NewJob:
    payload = {"calledElement": effect.called_element, "binding": effect.binding,
               "data": effect.data, "async": effect.is_async}  # fmt: skip
    return NewJob(
        kind=CALL_START,
        run_at=now,
        key=f"{CALL_START}/{parent_uuid}/{effect.wait_id}",
        instance_uuid=parent_uuid,
        wait_id=effect.wait_id,
        token_uuid=effect.token_uuid,
        node_id=effect.node_id,
        payload=payload,
    )


def tell_parent(txn: StoreTxn, before: ProcessInstance | None, saved: ProcessInstance,
                now: datetime) -> None:  # fmt: skip
    """A child that just ended queues the news for its parent."""
    parent = saved.calling.parent_uuid
    outcome = _ENDINGS.get(saved.state)
    if parent is None or outcome is None or (before is not None and before.state is saved.state):
        return
    payload: dict[str, Any] = {"child": str(saved.uuid), "outcome": outcome}
    if outcome == FINISHED:
        payload["data"] = saved.data
    if saved.state is InstanceState.EXPIRED:
        payload["message"] = "it expired (expiryTime)"
    incident = next((i for i in reversed(saved.incidents) if i.is_open), None)
    if outcome == FAILED and incident is not None:
        payload["message"] = incident.message
        if incident.type == UNHANDLED_ERROR and incident.error_code is not None:
            payload.update(outcome=ERROR, errorCode=incident.error_code)
    key = f"{CHILD_ENDED}/{saved.uuid}/{saved.version}"
    txn.enqueue_jobs([NewJob(CHILD_ENDED, now, key=key, instance_uuid=parent, payload=payload)])


def cascade(txn: StoreTxn, saved: ProcessInstance, event: Event, now: datetime) -> None:
    """An operator's terminate, hold or unhold of ``saved`` goes on to each of its children."""
    operation = _operation(event)
    if operation is None:
        return
    children = [
        c.uuid for c in txn.children_of(saved.uuid) if c.state in _CASCADE_STATES[operation]
    ]
    reason = event.reason if isinstance(event, Terminate) else ""
    by = event.by if isinstance(event, Terminate | Hold | Unhold) else None
    cause = f"{saved.version}"
    txn.enqueue_jobs(
        [cascade_job(child, operation, saved.uuid, cause, now, reason, by) for child in children]
    )


def terminate_called(txn: StoreTxn, parent_uuid: UUID, wait_ids: list[str], now: datetime) -> None:
    """The parent's call waits were cancelled (its token left, it ended): their children
    end too. A child not started yet has its ``call_start`` job deleted with the wait."""
    jobs = [
        cascade_job(
            child_uuid(parent_uuid, wait_id),
            "terminate",
            parent_uuid,
            wait_id,
            now,
            "the calling token left the call activity",
            None,
        )
        for wait_id in wait_ids
    ]
    txn.enqueue_jobs(jobs)


def cascade_job(child: UUID, operation: str, parent: UUID, cause: str, now: datetime,
                reason: str, by: str | None) -> NewJob:  # fmt: skip
    # No instance_uuid: the job must run even while the child's own jobs are held.
    payload = {"child": str(child), "operation": operation, "parent": str(parent),
               "reason": reason, "by": by}  # fmt: skip
    key = f"{CASCADE}/{child}/{operation}/{cause}"
    return NewJob(CASCADE, now, key=key, payload=payload)


def _operation(event: Event) -> str | None:
    match event:
        case Terminate():
            return "terminate"
        case Hold():
            return "hold"
        case Unhold():
            return "unhold"
        case _:
            return None
