"""External tasks for workers: fetch-and-lock, complete, failure, BPMN error, lock changes.

A task is the fetchable row of an instance's external-task wait. Answers that move the
instance (complete, failure without retries, BPMN error) are engine events applied through
the pipeline, with the row checked and deleted or updated in the same transaction, so a
completion is applied exactly once and a late worker's answer (409) changes nothing.

Lock order: an answer locks the instance row before the task row, as every other writer
of the instance does (a terminate deletes the instance's task rows while holding the
instance); a fetch locks task rows only (skipping locked ones): no cycle, no deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from procflow.engine.events import BpmnErrorThrown, Event, ExternalTaskCompleted, ExternalTaskFailed
from procflow.model.data import JsonObject, select_paths
from procflow.model.errors import ExternalTaskLockLost, ExternalTaskNotFound, Forbidden
from procflow.model.instance import ProcessInstance, visible_locals
from procflow.runtime.access import ANY_WORKSPACE, Principal, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import apply_step, run_command
from procflow.store.port import ExternalTask, NewAuditEvent, StoreTxn, TaskFailure

# The bounds of API.md: at most 100 tasks per fetch, a lock of at most a day.
MAX_TASKS = 100
MAX_LOCK_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicRequest:
    name: str
    lock_ms: int
    # Data paths sent to the worker; None: all of the data.
    variables: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FetchRequest:
    worker_id: str
    max_tasks: int
    topics: tuple[TopicRequest, ...]


@dataclass(frozen=True)
class LockedTask:
    """A task as handed to the worker that locked it (data narrowed to what it asked)."""

    task: ExternalTask
    lock_expiration: datetime


def worker_workspaces(
    principal: Principal, wanted: Sequence[UUID] | None = None
) -> tuple[UUID, ...] | None:
    """Where the principal may work (narrowed to ``wanted``); None: every workspace."""
    if _works_in(principal, ANY_WORKSPACE):
        return tuple(wanted) if wanted is not None else None
    own = [UUID(ws) for ws in principal.roles if ws != ANY_WORKSPACE and _works_in(principal, ws)]
    if not own:
        raise Forbidden(role=Role.WORKER.value)
    return tuple(ws for ws in own if wanted is None or ws in wanted)


def _works_in(principal: Principal, workspace: str) -> bool:
    roles = principal.roles.get(workspace, frozenset())
    return Role.WORKER in roles or Role.ADMIN in roles


def fetch_and_lock(
    ctx: RuntimeContext, request: FetchRequest, workspaces: tuple[UUID, ...] | None
) -> list[LockedTask]:
    """Lock what is fetchable now, topic by topic, up to ``max_tasks`` (no waiting here:
    the HTTP layer long-polls by calling this again when woken)."""
    if workspaces == ():
        return []

    def attempt(txn: StoreTxn, now: datetime) -> list[LockedTask]:
        locked: list[LockedTask] = []
        for topic in request.topics:
            room = request.max_tasks - len(locked)
            if room <= 0:
                break
            until = now + timedelta(milliseconds=topic.lock_ms)
            tasks = txn.lock_external_tasks(
                request.worker_id, topic.name, now, until, room, workspaces
            )
            locked.extend(LockedTask(_narrowed(task, topic), until) for task in tasks)
        return locked

    return run_command(ctx, attempt)


def _narrowed(task: ExternalTask, topic: TopicRequest) -> ExternalTask:
    """The task as its worker sees it: the data with the token's own variables laid over it
    (a multi-instance element), narrowed to the variables the worker asked for."""
    variables = visible_locals(task.document, str(task.token_uuid)) if task.document else {}
    if variables:
        task = replace(task, data={**task.data, **variables})
    if topic.variables is None:
        return task
    return replace(task, data=select_paths(task.data, topic.variables))


def complete(
    ctx: RuntimeContext, principal: Principal, task_id: UUID, worker_id: str, data: JsonObject
) -> None:
    def attempt(txn: StoreTxn, now: datetime) -> None:
        task, instance = _answerable(txn, principal, task_id, worker_id)
        event = ExternalTaskCompleted(task.wait_id, data, worker_id)
        apply_step(ctx, txn, instance, event, now)

    run_command(ctx, attempt)


@dataclass(frozen=True)
class Failure:
    error_message: str
    error_details: str | None
    retries: int
    retry_timeout_ms: int


def fail(
    ctx: RuntimeContext, principal: Principal, task_id: UUID, worker_id: str, failure: Failure
) -> None:
    """Retries left: the task is fetchable again after the retry timeout (the instance does
    not move). None left: an ``external_task_failed`` incident, the instance FAILED."""

    def attempt(txn: StoreTxn, now: datetime) -> None:
        task, instance = _answerable(txn, principal, task_id, worker_id)
        retries = max(0, failure.retries)
        if retries == 0:
            event = ExternalTaskFailed(task.wait_id, failure.error_message, worker_id)
            apply_step(ctx, txn, instance, event, now)
        else:
            details = {"waitId": task.wait_id, "workerId": worker_id, "retries": retries,
                       "errorMessage": failure.error_message}  # fmt: skip
            audit = NewAuditEvent("external_task_failure", task.node_id, task.token_uuid, details)
            txn.append_audit(instance.uuid, [audit], now)
        available_at = now + timedelta(milliseconds=max(0, failure.retry_timeout_ms))
        recorded = TaskFailure(retries, available_at, failure.error_message, failure.error_details)
        txn.record_external_task_failure(task.id, recorded)

    run_command(ctx, attempt)


def throw_bpmn_error(
    ctx: RuntimeContext,
    principal: Principal,
    task_id: UUID,
    worker_id: str,
    error: tuple[str, str],
    data: JsonObject,
) -> None:
    code, message = error

    def attempt(txn: StoreTxn, now: datetime) -> None:
        task, instance = _answerable(txn, principal, task_id, worker_id)
        event: Event = BpmnErrorThrown(task.wait_id, code, message, data, worker_id)
        apply_step(ctx, txn, instance, event, now)

    run_command(ctx, attempt)


def extend_lock(
    ctx: RuntimeContext, principal: Principal, task_id: UUID, worker_id: str, new_duration_ms: int
) -> None:
    def attempt(txn: StoreTxn, now: datetime) -> None:
        task = _visible(txn, principal, task_id, for_update=True)
        _require_holder(task, worker_id)
        until = now + timedelta(milliseconds=new_duration_ms)
        txn.set_external_task_lock(task.id, worker_id, until)

    run_command(ctx, attempt)


def unlock(ctx: RuntimeContext, principal: Principal, task_id: UUID) -> None:
    def attempt(txn: StoreTxn, _now: datetime) -> None:
        task = _visible(txn, principal, task_id, for_update=True)
        txn.set_external_task_lock(task.id, None, None)

    run_command(ctx, attempt)


def _answerable(
    txn: StoreTxn, principal: Principal, task_id: UUID, worker_id: str
) -> tuple[ExternalTask, ProcessInstance]:
    """The task held by ``worker_id`` and its instance, both locked (the instance first)."""
    found = txn.lock_answerable_external_task(task_id)
    if found is None:
        raise ExternalTaskNotFound(taskId=str(task_id))
    instance, task = found
    principal.require(instance.workspace_id, Role.WORKER, ExternalTaskNotFound(taskId=str(task_id)))
    _require_holder(task, worker_id)
    return task, instance


def _visible(
    txn: StoreTxn, principal: Principal, task_id: UUID, *, for_update: bool = False
) -> ExternalTask:
    task = txn.get_external_task(task_id, for_update=for_update)
    if task is None:
        raise ExternalTaskNotFound(taskId=str(task_id))
    principal.require(task.workspace_id, Role.WORKER, ExternalTaskNotFound(taskId=str(task_id)))
    return task


def _require_holder(task: ExternalTask, worker_id: str) -> None:
    # A lock that expired while no one else fetched the task still counts (as in Camunda):
    # only another worker's fetch takes the task away.
    if task.locked_by is None or task.locked_by != worker_id:
        raise ExternalTaskLockLost(taskId=str(task.id), workerId=worker_id)
