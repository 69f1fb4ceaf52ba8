"""The worker's side of batches: one slice of items per job, one transaction per slice.

A slice job claims up to ``slice_size`` PENDING items of its batch (rows no other slice
holds: ``lanes`` chains of slice jobs run side by side, on different workers), applies
them, marks each DONE or FAILED, adds to the batch's counters and queues its chain's next
slice (due when ``runtime/throttle.py`` says), all in the job's own transaction, which
also deletes the job under the worker's claim. A process killed anywhere therefore leaves the slice
wholly applied or not at all, and an item can never be applied twice.

A copy slice starts its items together: the sources in one read, and the new instances,
audit events and idempotency keys written with one statement per table (``SliceWrites``),
with no savepoint per item. An item that fails is recorded with its error and its writes
are dropped; if the combined write fails (an item key taken by an earlier run), the slice
starts its items one by one instead, each in a savepoint, as retry and terminate slices do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
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
from procflow.runtime import priority, throttle
from procflow.runtime.access import Principal, Role
from procflow.runtime.batch_spec import (
    BatchOperation,
    BatchSettings,
    BatchSpec,
    BatchState,
    ItemState,
)
from procflow.runtime.batches import slice_job
from procflow.runtime.commands import apply_event_in
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import RetryableConflict
from procflow.runtime.slice_writes import NotCollectable, SliceWrites
from procflow.runtime.starting import StartRequest, StartTarget, start_in
from procflow.runtime.throttle import Pace
from procflow.store.port import BatchItem, BatchRecord, Job, NewJob, StoreTxn

log = logging.getLogger("procflow.batch")


def run_slice(ctx: RuntimeContext, txn: StoreTxn, job: Job, now: datetime) -> int:
    """Apply the next slice of the job's batch; how many items it applied."""
    # Not locked: the slices of other lanes run meanwhile. A cancel commits first or waits
    # for this slice (the counters' update below), and then deletes this job's row.
    batch = txn.get_batch(UUID(job.payload["batchId"]))
    if batch is None or batch.state != BatchState.RUNNING:
        return 0  # cancelled (or gone): the job is obsolete
    began = time.perf_counter()
    items = txn.claim_batch_items(batch.id, ctx.batches.slice_size)
    if not items:
        # The rest is held by other lanes, which decide after it: this chain ends.
        _complete_when_done(txn, batch.id, now)
        return 0
    spec = BatchSpec.from_document(batch.spec)
    with priority.lowered(ctx.batches.nice):  # live work on this machine goes first
        outcomes = _apply_items(ctx, txn, now, _principal_of(batch), spec, batch, items)
    txn.finish_batch_items(outcomes)
    failed = sum(1 for o in outcomes if o.state == ItemState.FAILED)
    if not txn.add_batch_progress(batch.id, len(outcomes) - failed, failed, now):
        raise RetryableConflict()  # cancelled meanwhile: decide again on a fresh read
    if not _complete_when_done(txn, batch.id, now):
        busy = time.perf_counter() - began
        txn.enqueue_jobs(_next_slices(ctx.batches, batch.id, job, now, len(items), busy))
    return len(items)


def give_up_slice(txn: StoreTxn, job: Job, now: datetime) -> None:
    """A slice kept failing as a whole (never a domain error: those fail one item): the
    first pending item is taken to be the cause, recorded FAILED, and the batch goes on."""
    batch = txn.get_batch(UUID(job.payload["batchId"]))
    if batch is None or batch.state != BatchState.RUNNING:
        return
    items = txn.claim_batch_items(batch.id, 1)
    error = {"code": "batch_item_gave_up", "message": "the item kept failing; skipped"}
    txn.finish_batch_items([replace(i, state=ItemState.FAILED, error=error, finished_at=now)
                            for i in items])  # fmt: skip
    txn.add_batch_progress(batch.id, 0, len(items), now)
    log.error("batch slice gave up", extra={"batch": str(batch.id)})
    if items and not _complete_when_done(txn, batch.id, now):
        lane, number = _position(job)
        txn.enqueue_jobs(
            [slice_job(batch.id, number + 1, now, lane, Pace.from_payload(job.payload))]
        )


def _complete_when_done(txn: StoreTxn, batch_id: UUID, now: datetime) -> bool:
    """COMPLETED once no item is pending. Items another lane holds still count as pending
    here: that lane finishes them and then decides, or its next slice does."""
    if txn.has_pending_items(batch_id):
        return False
    txn.complete_batch(batch_id, now)
    return True


def _position(job: Job) -> tuple[int, int]:
    """The job's lane and slice number (jobs queued before lanes existed: lane 0)."""
    return int(job.payload.get("lane", 0)), int(job.payload["slice"])


def _next_slices(
    settings: BatchSettings,
    batch_id: UUID,
    job: Job,
    now: datetime,
    applied: int,
    busy_seconds: float,
) -> list[NewJob]:
    """The chain's next slice, due when the throttle allows: this slice's start, ``now``,
    plus the period it decided from the slice's items and busy time."""
    lane, number = _position(job)
    decision = throttle.after_slice(
        settings.throttle, Pace.from_payload(job.payload), applied, busy_seconds, settings.lanes
    )
    log.debug(
        "batch slice paced",
        extra={"batch": str(batch_id), "lane": lane, "slice": number, "items": applied,
               "busySeconds": round(busy_seconds, 4), "periodSeconds": decision.period_seconds,
               "slowdown": decision.pace.slowdown, "contended": decision.contended},
    )  # fmt: skip
    due = now + timedelta(seconds=decision.period_seconds)
    jobs = [slice_job(batch_id, number + 1, due, lane, decision.pace)]
    if lane == 0 and number == 1:
        # The first slice opens the other lanes, each a chain of its own that starts from
        # what this one measured.
        jobs += [
            slice_job(batch_id, 1, now, other, decision.pace) for other in range(1, settings.lanes)
        ]
    return jobs


def _principal_of(batch: BatchRecord) -> Principal:
    """The batch's creator, confined to the batch's workspace and to what batches do."""
    roles = frozenset({Role.OPERATE, Role.START, Role.READ})
    return Principal(batch.created_by, {str(batch.workspace_id): roles})


def _apply_items(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    spec: BatchSpec,
    batch: BatchRecord,
    items: list[BatchItem],
) -> list[BatchItem]:
    if spec.operation is BatchOperation.COPY:
        together = _copy_together(ctx, txn, now, principal, spec, batch, items)
        if together is not None:
            return together
    return [_apply_item(ctx, txn, now, principal, spec, batch, item) for item in items]


def _copy_together(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    spec: BatchSpec,
    batch: BatchRecord,
    items: list[BatchItem],
) -> list[BatchItem] | None:
    """The slice's copies started with their writes collected and written together; None
    when the combined write failed (nothing of it stays) and the items must go one by one."""
    writes = SliceWrites(txn, [item.source_uuid for item in items], now)
    outcomes: dict[int, BatchItem] = {}
    alone: list[BatchItem] = []
    for item in items:
        mark = writes.mark()
        try:
            copy = partial(_copy, ctx, writes.txn, now, principal, spec, batch, item)
            outcome = _outcome(item, now, batch, copy)
        except NotCollectable:
            # Not one of the simple starts (it subscribes to a message, ...): on its own.
            writes.drop_to(mark)
            alone.append(item)
            continue
        if outcome.state == ItemState.FAILED:
            writes.drop_to(mark)
        outcomes[item.seq] = outcome
    if not _flush(txn, writes):
        return None
    for item in alone:
        outcomes[item.seq] = _apply_item(ctx, txn, now, principal, spec, batch, item)
    return [outcomes[item.seq] for item in items]


def _flush(txn: StoreTxn, writes: SliceWrites) -> bool:
    try:
        with txn.savepoint():
            if not writes.flush():
                raise _KeyTaken()
    except (_KeyTaken, SQLAlchemyError):
        # Item by item, each in its savepoint: an earlier run's item answers its copy
        # again, and a row the database refuses fails the slice as it would alone.
        log.info("batch slice goes item by item", exc_info=True)
        return False
    return True


class _KeyTaken(Exception):
    """An item's idempotency key exists: an earlier run started its copy."""


def _apply_item(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    spec: BatchSpec,
    batch: BatchRecord,
    item: BatchItem,
) -> BatchItem:
    def in_savepoint() -> UUID:
        with txn.savepoint():
            return _apply(ctx, txn, now, principal, spec, batch, item)

    return _outcome(item, now, batch, in_savepoint)


def _outcome(
    item: BatchItem, now: datetime, batch: BatchRecord, apply: Callable[[], UUID]
) -> BatchItem:
    """The item DONE with ``apply``'s answer, or FAILED with the domain error it raised."""
    try:
        result = apply()
    except (NotCollectable, ConcurrentModification, RetryableConflict, SQLAlchemyError):
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
