"""Batches: create (or dry-run), read progress and items, cancel.

Creating a batch snapshots the matching instances as numbered PENDING items and queues the
batch's first slice for the worker (``runtime/batch_runner.py``), all in one transaction:
a batch that was answered 202 exists with all its items, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from procflow.model.data import JsonObject
from procflow.model.errors import (
    BatchFinished,
    BatchNotFound,
    BatchTooLarge,
    InvalidParameter,
    ProcflowError,
    WorkspaceNotFound,
)
from procflow.runtime.access import Principal, Role
from procflow.runtime.batch_spec import (
    BatchFilter,
    BatchOperation,
    BatchRequest,
    BatchState,
)
from procflow.runtime.context import RuntimeContext
from procflow.runtime.copying import copied_data, read_source
from procflow.runtime.pipeline import run_command
from procflow.runtime.throttle import Pace
from procflow.store.port import BatchItem, BatchRecord, NewJob, StoreTxn

BATCH_JOB = "batch"
DRY_RUN_SAMPLES = 3
# The column's width: a longer ``sub`` claim is kept as its first 200 characters.
MAX_SUBJECT = 200
# Item numbers are 32-bit integers in both stores.
MAX_ITEM_SEQ = 2**31 - 1


def slice_job(
    batch_id: UUID, number: int, run_at: datetime, lane: int = 0, pace: Pace | None = None
) -> NewJob:
    """The job that applies a lane's next slice; its key makes a slice queue once. It
    carries the lane's throttle state, for whichever worker claims it."""
    payload = {"batchId": str(batch_id), "slice": number, "lane": lane}
    payload |= (pace or Pace()).to_payload()
    key = f"{BATCH_JOB}/{batch_id}/{lane}/{number}"
    return NewJob(BATCH_JOB, run_at, key=key, payload=payload)


@dataclass(frozen=True)
class DrySample:
    source_uuid: UUID
    # copyDataFrom: the merged data a copy would start with; else the instance's state.
    data: JsonObject | None = None
    state: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class BatchDryRun:
    total: int
    samples: tuple[DrySample, ...]


def create_batch(
    ctx: RuntimeContext, principal: Principal, request: BatchRequest
) -> BatchRecord | BatchDryRun:
    _require_roles(principal, request)
    if request.dry_run:
        with ctx.store.read_transaction() as txn:
            return _dry_run(txn, principal, request, ctx.batches.max_items)

    def attempt(txn: StoreTxn, now: datetime) -> BatchRecord:
        return _insert(txn, principal, request, now, ctx.batches.max_items)

    return run_command(ctx, attempt)


def _require_roles(principal: Principal, request: BatchRequest) -> None:
    principal.require(request.workspace_id, Role.OPERATE, WorkspaceNotFound())
    if request.spec.operation is BatchOperation.COPY:
        # Every item starts an instance from another one's data.
        principal.require(request.workspace_id, Role.START, WorkspaceNotFound())
        principal.require(request.workspace_id, Role.READ, WorkspaceNotFound())


def _sources(
    txn: StoreTxn, workspace_id: UUID, selection: BatchFilter, max_items: int
) -> list[UUID]:
    if selection.uuids is not None:
        # Each instance once, in the order given.
        sources = list(dict.fromkeys(selection.uuids))
        if len(sources) > max_items:
            raise _too_large(len(sources), max_items)
        return sources
    assert selection.query is not None
    query = replace(selection.query, workspace_id=workspace_id, after=None, limit=max_items + 1)
    found = txn.search_instance_uuids(query)
    if len(found) > max_items:
        raise _too_large(txn.count_instances(query), max_items)
    return [uuid for _, uuid in found]


def _too_large(count: int, max_items: int) -> BatchTooLarge:
    return BatchTooLarge(
        f"The batch matches {count} items; at most {max_items} are allowed.",
        count=count,
        limit=max_items,
    )


def _insert(
    txn: StoreTxn, principal: Principal, request: BatchRequest, now: datetime, max_items: int
) -> BatchRecord:
    sources = _sources(txn, request.workspace_id, request.filter, max_items)
    empty = not sources
    spec = {**request.spec.to_document(), "filter": request.filter.describe()}
    batch = BatchRecord(
        id=uuid4(), workspace_id=request.workspace_id, operation=request.spec.operation.value,
        state=BatchState.COMPLETED if empty else BatchState.RUNNING, spec=spec,
        total=len(sources), done=0, failed=0, created_by=principal.subject[:MAX_SUBJECT],
        created_at=now,
        updated_at=now, finished_at=now if empty else None,
    )  # fmt: skip
    txn.insert_batch(batch, sources)
    if not empty:
        txn.enqueue_jobs([slice_job(batch.id, 1, now)])
    return batch


def _dry_run(
    txn: StoreTxn, principal: Principal, request: BatchRequest, max_items: int
) -> BatchDryRun:
    sources = _sources(txn, request.workspace_id, request.filter, max_items)
    samples = tuple(
        _sample(txn, principal, request, source) for source in sources[:DRY_RUN_SAMPLES]
    )
    return BatchDryRun(len(sources), samples)


def _sample(
    txn: StoreTxn, principal: Principal, request: BatchRequest, source_uuid: UUID
) -> DrySample:
    spec = request.spec
    try:
        source = read_source(txn, principal, request.workspace_id, spec.copy_of(source_uuid))
    except ProcflowError as error:
        return DrySample(source_uuid, error=error.message)
    if spec.operation is BatchOperation.COPY:
        data = copied_data(source, spec.copy_of(source_uuid), spec.body)
        return DrySample(source_uuid, data=data, state=source.state.value)
    return DrySample(source_uuid, state=source.state.value)


def get_batch(
    ctx: RuntimeContext, principal: Principal, workspace_id: UUID, batch_id: UUID
) -> BatchRecord:
    principal.require(workspace_id, Role.READ, WorkspaceNotFound())
    with ctx.store.read_transaction() as txn:
        return _visible(txn, workspace_id, batch_id)


def _visible(
    txn: StoreTxn, workspace_id: UUID, batch_id: UUID, *, for_update: bool = False
) -> BatchRecord:
    batch = txn.get_batch(batch_id, for_update=for_update)
    if batch is None or batch.workspace_id != workspace_id:
        raise BatchNotFound()
    return batch


def batch_items(
    ctx: RuntimeContext,
    principal: Principal,
    workspace_id: UUID,
    batch_id: UUID,
    *,
    after: int,
    limit: int,
    state: str | None = None,
) -> list[BatchItem]:
    principal.require(workspace_id, Role.READ, WorkspaceNotFound())
    if not 0 <= after <= MAX_ITEM_SEQ:
        # Not a cursor this API handed out (and the database driver would overflow on it).
        raise InvalidParameter("cursor is not a cursor this listing returned.", parameter="cursor")
    with ctx.store.read_transaction() as txn:
        _visible(txn, workspace_id, batch_id)
        return txn.list_batch_items(batch_id, after, limit, state)


def cancel_batch(
    ctx: RuntimeContext, principal: Principal, workspace_id: UUID, batch_id: UUID
) -> BatchRecord:
    """Stop a running batch: the items applied stay applied, the rest stay PENDING."""
    principal.require(workspace_id, Role.OPERATE, WorkspaceNotFound())

    def attempt(txn: StoreTxn, now: datetime) -> BatchRecord:
        batch = _visible(txn, workspace_id, batch_id, for_update=True)
        if batch.state != BatchState.RUNNING:
            raise BatchFinished(state=batch.state)
        # A slice claimed meanwhile loses its job row and rolls back: nothing more applies.
        txn.cancel_jobs_with_key_prefix(f"{BATCH_JOB}/{batch.id}/")
        cancelled = replace(batch, state=BatchState.CANCELLED, updated_at=now, finished_at=now)
        txn.save_batch_progress(cancelled)
        return cancelled

    return run_command(ctx, attempt)


def batch_json_progress(batch: BatchRecord) -> dict[str, Any]:
    """Counts a progress display needs (shared by the API and the CLI's tests)."""
    return {"total": batch.total, "done": batch.done, "failed": batch.failed}
