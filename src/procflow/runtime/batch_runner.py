"""The worker's side of batches: one slice of items per job, one transaction per slice.

A slice job locks its batch, applies up to ``slice_size`` PENDING items, marks each DONE or
FAILED, updates the counters and queues the next slice (after the pause the rate asks for),
all in the job's own transaction, which also deletes the job under the worker's claim. A
process killed anywhere therefore leaves the slice wholly applied or not at all, and an item
can never be applied twice. Each item runs in a savepoint: a failing item is rolled back
alone and recorded with its error, and the rest of the slice goes on.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.exc import SQLAlchemyError

from procflow.engine.events import RetryIncident, Terminate
from procflow.model.errors import (
    ConcurrentModification,
    InstanceStateConflict,
    ProcessInstanceNotFound,
    ProcflowError,
)
from procflow.model.instance import ProcessInstance
from procflow.runtime.access import Principal, Role
from procflow.runtime.batch_spec import BatchOperation, BatchSpec, BatchState, ItemState
from procflow.runtime.batches import slice_job
from procflow.runtime.commands import apply_event_in
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import RetryableConflict
from procflow.runtime.starting import StartRequest, StartTarget, start_in
from procflow.store.port import BatchItem, BatchRecord, Job, StoreTxn

log = logging.getLogger("procflow.batch")


def run_slice(ctx: RuntimeContext, txn: StoreTxn, job: Job, now: datetime) -> int:
    """Apply the next slice of the job's batch; how many items it applied."""
    batch = txn.get_batch(UUID(job.payload["batchId"]), for_update=True)
    if batch is None or batch.state != BatchState.RUNNING:
        return 0  # cancelled (or gone): the job is obsolete
    items = txn.list_batch_items(batch.id, 0, ctx.batches.slice_size, ItemState.PENDING)
    spec = BatchSpec.from_document(batch.spec)
    principal = _principal_of(batch)
    outcomes = [_apply_item(ctx, txn, now, principal, spec, batch, item) for item in items]
    for outcome in outcomes:
        txn.finish_batch_item(outcome)
    failed = sum(1 for o in outcomes if o.state == ItemState.FAILED)
    progressed = replace(batch, done=batch.done + len(outcomes) - failed,
                         failed=batch.failed + failed, updated_at=now)  # fmt: skip
    _go_on(txn, progressed, int(job.payload["slice"]), now + ctx.batches.pause_after(len(items)))
    return len(outcomes)


def give_up_slice(txn: StoreTxn, job: Job, now: datetime) -> None:
    """A slice kept failing as a whole (never a domain error: those fail one item): the
    first pending item is taken to be the cause, recorded FAILED, and the batch goes on."""
    batch = txn.get_batch(UUID(job.payload["batchId"]), for_update=True)
    if batch is None or batch.state != BatchState.RUNNING:
        return
    failed = 0
    for item in txn.list_batch_items(batch.id, 0, 1, ItemState.PENDING):
        error = {"code": "batch_item_gave_up", "message": "the item kept failing; skipped"}
        txn.finish_batch_item(replace(item, state=ItemState.FAILED, error=error, finished_at=now))
        failed = 1
    log.error("batch slice gave up", extra={"batch": str(batch.id)})
    progressed = replace(batch, failed=batch.failed + failed, updated_at=now)
    _go_on(txn, progressed, int(job.payload["slice"]), now)


def _go_on(txn: StoreTxn, batch: BatchRecord, slice_number: int, next_at: datetime) -> None:
    if txn.list_batch_items(batch.id, 0, 1, ItemState.PENDING):
        txn.enqueue_jobs([slice_job(batch.id, slice_number + 1, next_at)])
    else:
        batch = replace(batch, state=BatchState.COMPLETED, finished_at=batch.updated_at)
    txn.save_batch_progress(batch)


def _principal_of(batch: BatchRecord) -> Principal:
    """The batch's creator, confined to the batch's workspace and to what batches do."""
    roles = frozenset({Role.OPERATE, Role.START, Role.READ})
    return Principal(batch.created_by, {str(batch.workspace_id): roles})


def _apply_item(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    spec: BatchSpec,
    batch: BatchRecord,
    item: BatchItem,
) -> BatchItem:
    try:
        with txn.savepoint():
            result = _apply(ctx, txn, now, principal, spec, batch, item)
    except (ConcurrentModification, RetryableConflict, SQLAlchemyError):
        raise  # a lost race or the database itself: the whole slice runs again
    except ProcflowError as error:
        return _failed(item, now, error.code, error.message)
    except Exception as error:
        log.exception("batch item failed", extra={"batch": str(batch.id), "seq": item.seq})
        return _failed(item, now, "internal_error", f"{type(error).__name__}")
    return replace(item, state=ItemState.DONE, result_uuid=result, finished_at=now)


def _failed(item: BatchItem, now: datetime, code: str, message: str) -> BatchItem:
    error: dict[str, Any] = {"code": code, "message": message}
    return replace(item, state=ItemState.FAILED, error=error, finished_at=now)


def _apply(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    spec: BatchSpec,
    batch: BatchRecord,
    item: BatchItem,
) -> UUID:
    match spec.operation:
        case BatchOperation.COPY:
            return _copy(ctx, txn, now, principal, spec, batch, item)
        case BatchOperation.RETRY:
            event = _retry_event(spec, batch.created_by)
        case BatchOperation.TERMINATE:
            reason = spec.body.get("reason")
            terminate = Terminate(reason if isinstance(reason, str) else "", by=batch.created_by)
            event = lambda _instance: terminate  # noqa: E731
    view = apply_event_in(ctx, txn, now, principal, Role.OPERATE, item.source_uuid, event)
    return view.instance.uuid


def _retry_event(spec: BatchSpec, by: str) -> Any:
    def event(instance: ProcessInstance) -> RetryIncident:
        incident = next((i for i in instance.incidents if i.is_open), None)
        if incident is None:
            raise InstanceStateConflict(
                "The process instance has no open incident to retry.", state=instance.state.value
            )
        return RetryIncident(incident.id, spec.body, by=by)

    return event


def _copy(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    spec: BatchSpec,
    batch: BatchRecord,
    item: BatchItem,
) -> UUID:
    source = txn.get_instance(item.source_uuid)
    if source is None or source.workspace_id != batch.workspace_id:
        raise ProcessInstanceNotFound()
    request = StartRequest(
        target=StartTarget(spec.app_id or source.app_id, workspace_id=batch.workspace_id),
        process_name=spec.process_name or source.definition_name,
        body=spec.body,
        copy=spec.copy_of(source.uuid),
        # The item's own key: even a second application would answer the first copy.
        idempotency_key=f"batch:{batch.id}:{item.seq}",
    )
    return start_in(ctx, txn, now, principal, request).instance.uuid
