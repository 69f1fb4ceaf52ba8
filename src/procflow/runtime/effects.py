"""Carrying out what an engine step asks for, in the step's own transaction.

One executor for every effect: ``match`` with ``assert_never``, so an effect the engine
learns to produce cannot be silently dropped here. It translates engine effects into the
store's own types (``NewAuditEvent``, ``NewJob``): the store never sees the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, assert_never
from uuid import UUID, uuid5

from procflow.engine.events import (
    AuditEvent,
    CancelWaits,
    Effect,
    HoldWaits,
    OpenExternalTask,
    RetryExternalTask,
    ScheduleWait,
    StartChild,
    Subscribe,
)
from procflow.model.instance import WaitKind
from procflow.runtime.child_jobs import call_start_job, terminate_called
from procflow.store.port import NewAuditEvent, NewExternalTask, NewJob, NewSubscription, StoreTxn

# Fixed forever: external task ids are derived from it (see ``external_task_id``).
EXTERNAL_TASK_NAMESPACE = UUID("5d0c6f3e-8f4a-4f55-9a43-2f0b8e6c1d7a")


class JobReuse(Protocol):
    """A worker that may turn the job it is running into one of the step's new jobs
    (see ``Worker``): ``take`` returns True when it did, and the job is then not inserted."""

    def take(self, job: NewJob) -> bool: ...


def wait_job_key(instance_uuid: UUID, wait_id: str) -> str:
    """One pending job per instance wait: scheduling a wait twice queues it once."""
    return f"{instance_uuid}/{wait_id}"


def job_for_wait(instance_uuid: UUID, effect: ScheduleWait) -> NewJob:
    return NewJob(
        kind=effect.kind,
        run_at=effect.due_at,
        key=wait_job_key(instance_uuid, effect.wait_id),
        instance_uuid=instance_uuid,
        wait_id=effect.wait_id,
        token_uuid=effect.token_uuid,
        node_id=effect.node_id,
    )


def external_task_id(instance_uuid: UUID, wait_id: str) -> UUID:
    """One task id per instance wait, the same however often the effect is carried out."""
    return uuid5(EXTERNAL_TASK_NAMESPACE, f"{instance_uuid}/{wait_id}")


def external_task_for_wait(instance_uuid: UUID, effect: OpenExternalTask) -> NewExternalTask:
    return NewExternalTask(
        id=external_task_id(instance_uuid, effect.wait_id),
        instance_uuid=instance_uuid,
        wait_id=effect.wait_id,
        token_uuid=effect.token_uuid,
        node_id=effect.node_id,
        topic=effect.topic,
        retries=effect.retries,
    )


def carry_out(
    txn: StoreTxn,
    instance_uuid: UUID,
    effects: Sequence[Effect],
    now: datetime,
    reuse: JobReuse | None = None,
) -> None:
    pending = _Pending(instance_uuid, now)
    for effect in effects:
        pending.add(effect)
    txn.append_audit(instance_uuid, pending.audit, now)
    txn.cancel_jobs(instance_uuid, pending.cancelled_in("job"))
    txn.cancel_external_tasks(instance_uuid, pending.cancelled_in(WaitKind.EXTERNAL.value))
    txn.cancel_subscriptions(instance_uuid, pending.cancelled_in(WaitKind.MESSAGE.value))
    _enqueue(txn, list(pending.jobs.values()), reuse)
    txn.open_external_tasks(list(pending.tasks.values()), now)
    txn.open_subscriptions(list(pending.subscriptions.values()), now)
    terminate_called(txn, instance_uuid, pending.cancelled_calls(), now)
    for retry in pending.retried:
        txn.retry_external_task(instance_uuid, retry.wait_id, retry.retries)
    if pending.held is not None:
        txn.hold_jobs(instance_uuid, pending.held)


class _Pending:
    """A step's effects as store writes, collected so that each kind is one statement, and
    a wait opened and cancelled within the step never reaches the store."""

    def __init__(self, instance_uuid: UUID, now: datetime) -> None:
        self.instance_uuid = instance_uuid
        self.now = now
        self.audit: list[NewAuditEvent] = []
        self.jobs: dict[str, NewJob] = {}
        self.tasks: dict[str, NewExternalTask] = {}
        self.subscriptions: dict[str, NewSubscription] = {}
        self.retried: list[RetryExternalTask] = []
        # Cancelled wait ids with their kind ("" when unknown: every table is looked in).
        self.cancelled: list[tuple[str, str]] = []
        self.held: bool | None = None

    def add(self, effect: Effect) -> None:
        match effect:
            case AuditEvent(type_, node_id, token_uuid, details):
                self.audit.append(NewAuditEvent(type_, node_id, token_uuid, details))
            case ScheduleWait():
                self.jobs[effect.wait_id] = job_for_wait(self.instance_uuid, effect)
            case OpenExternalTask():
                self.tasks[effect.wait_id] = external_task_for_wait(self.instance_uuid, effect)
            case Subscribe():
                self.subscriptions[effect.wait_id] = subscription_for_wait(
                    self.instance_uuid, effect
                )
            case StartChild():
                self.jobs[effect.wait_id] = call_start_job(self.instance_uuid, effect, self.now)
            case RetryExternalTask():
                self.retried.append(effect)
            case CancelWaits(wait_ids, kinds):
                kinds = kinds or ("",) * len(wait_ids)
                self.cancelled.extend(
                    (w, k) for w, k in zip(wait_ids, kinds, strict=True) if not self._unopened(w)
                )
            case HoldWaits():
                self.held = effect.held
            case _:
                assert_never(effect)

    def cancelled_in(self, table: str) -> list[str]:
        """The cancelled waits whose rows live in ``table`` (jobs: every other kind)."""
        own = {WaitKind.EXTERNAL.value, WaitKind.MESSAGE.value}
        return [
            wait_id
            for wait_id, kind in self.cancelled
            if kind in ("", table) or (table == "job" and kind not in own)
        ]

    def cancelled_calls(self) -> list[str]:
        """Cancelled call waits: their children are terminated (runtime/child_jobs.py)."""
        return [wait_id for wait_id, kind in self.cancelled if kind == WaitKind.CALL.value]

    def _unopened(self, wait_id: str) -> bool:
        opened = (self.jobs, self.tasks, self.subscriptions)
        return any([pending.pop(wait_id, None) is not None for pending in opened])


def subscription_for_wait(instance_uuid: UUID, effect: Subscribe) -> NewSubscription:
    return NewSubscription(instance_uuid, effect.wait_id, effect.token_uuid, effect.node_id,
                           effect.message_name, effect.correlation_key)  # fmt: skip


def _enqueue(txn: StoreTxn, jobs: list[NewJob], reuse: JobReuse | None) -> None:
    if reuse is not None:
        jobs = [job for job in jobs if not reuse.take(job)]
    txn.enqueue_jobs(jobs)
