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
)
from procflow.store.port import NewAuditEvent, NewExternalTask, NewJob, StoreTxn

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
    audit: list[NewAuditEvent] = []
    new_jobs: dict[str, NewJob] = {}
    new_tasks: dict[str, NewExternalTask] = {}
    retried: list[RetryExternalTask] = []
    cancelled: list[str] = []
    held: bool | None = None
    for effect in effects:
        match effect:
            case AuditEvent(type_, node_id, token_uuid, details):
                audit.append(NewAuditEvent(type_, node_id, token_uuid, details))
            case ScheduleWait():
                new_jobs[effect.wait_id] = job_for_wait(instance_uuid, effect)
            case OpenExternalTask():
                new_tasks[effect.wait_id] = external_task_for_wait(instance_uuid, effect)
            case RetryExternalTask():
                retried.append(effect)
            case CancelWaits(wait_ids):
                # A wait opened and cancelled within the step never reaches the store.
                cancelled.extend(
                    w for w in wait_ids if not (new_jobs.pop(w, None) or new_tasks.pop(w, None))
                )
            case HoldWaits():
                held = effect.held
            case _:
                assert_never(effect)
    txn.append_audit(instance_uuid, audit, now)
    txn.cancel_jobs(instance_uuid, cancelled)
    txn.cancel_external_tasks(instance_uuid, cancelled)
    _enqueue(txn, list(new_jobs.values()), reuse)
    txn.open_external_tasks(list(new_tasks.values()), now)
    for retry in retried:
        txn.retry_external_task(instance_uuid, retry.wait_id, retry.retries)
    if held is not None:
        txn.hold_jobs(instance_uuid, held)


def _enqueue(txn: StoreTxn, jobs: list[NewJob], reuse: JobReuse | None) -> None:
    if reuse is not None:
        jobs = [job for job in jobs if not reuse.take(job)]
    txn.enqueue_jobs(jobs)
