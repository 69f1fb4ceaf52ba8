"""Batches (the ``operate`` role): create (or dry-run), progress, items, cancel."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.batch_requests import batch_request
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.runtime import batches
from procflow.runtime.batch_spec import ItemState
from procflow.runtime.context import RuntimeContext
from procflow.store.port import BatchItem, BatchRecord

router = APIRouter(tags=["batches"])

BATCHES = "/api/runtime/wks/{workspaceId}/batches"


def _ctx(request: Request) -> RuntimeContext:
    ctx: RuntimeContext = request.app.state.ctx
    return ctx


def batch_json(batch: BatchRecord) -> dict[str, Any]:
    spec = dict(batch.spec)
    return {
        "id": str(batch.id),
        "workspaceId": str(batch.workspace_id),
        "operation": batch.operation,
        "state": batch.state,
        "total": batch.total,
        "done": batch.done,
        "failed": batch.failed,
        "filter": spec.pop("filter", None),
        "spec": spec,
        "createdBy": batch.created_by,
        "createdAt": batch.created_at.isoformat(),
        "updatedAt": batch.updated_at.isoformat(),
        "finishedAt": batch.finished_at.isoformat() if batch.finished_at else None,
    }


def item_json(item: BatchItem) -> dict[str, Any]:
    return {
        "seq": item.seq,
        "sourceUuid": str(item.source_uuid),
        "state": item.state,
        "resultUuid": str(item.result_uuid) if item.result_uuid else None,
        "error": item.error,
        "finishedAt": item.finished_at.isoformat() if item.finished_at else None,
    }


def dry_run_json(answer: batches.BatchDryRun) -> dict[str, Any]:
    return {
        "dryRun": True,
        "total": answer.total,
        "samples": [
            {"sourceUuid": str(s.source_uuid), "state": s.state, "data": s.data, "error": s.error}
            for s in answer.samples
        ],
    }


@router.post(BATCHES, status_code=202, summary="Create a batch (copyDataFrom, retry, terminate)")
async def create_batch(
    workspaceId: UUID,
    request: Request,
    dryRun: Annotated[bool, Query(description="count the items, apply nothing")] = False,
) -> Response:
    principal = principal_of(request)
    body = await read_json_object(request, empty_ok=False)
    parsed = batch_request(workspaceId, body, dryRun)
    answer = await run_in_threadpool(batches.create_batch, _ctx(request), principal, parsed)
    if isinstance(answer, batches.BatchDryRun):
        return JsonResponse(dry_run_json(answer))
    headers = {"Location": f"/api/runtime/wks/{workspaceId}/batches/{answer.id}"}
    return JsonResponse(batch_json(answer), status_code=202, headers=headers)


@router.get(BATCHES + "/{batchId}", summary="A batch's progress")
async def get_batch(workspaceId: UUID, batchId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    batch = await run_in_threadpool(
        batches.get_batch, _ctx(request), principal, workspaceId, batchId
    )
    return JsonResponse(batch_json(batch))


@router.get(BATCHES + "/{batchId}/items", summary="A batch's items, cursor-paginated by seq")
async def list_batch_items(
    workspaceId: UUID,
    batchId: UUID,
    request: Request,
    state: ItemState | None = None,
    cursor: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    principal = principal_of(request)
    found = await run_in_threadpool(
        lambda: batches.batch_items(
            _ctx(request), principal, workspaceId, batchId, after=cursor, limit=limit + 1,
            state=state.value if state else None,
        )
    )  # fmt: skip
    page = found[:limit]
    next_cursor = str(page[-1].seq) if len(found) > limit else None
    return JsonResponse({"content": [item_json(i) for i in page], "nextCursor": next_cursor})


@router.post(BATCHES + "/{batchId}/cancel", summary="Cancel a running batch")
async def cancel_batch(workspaceId: UUID, batchId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    await read_json_object(request)
    batch = await run_in_threadpool(
        batches.cancel_batch, _ctx(request), principal, workspaceId, batchId
    )
    return JsonResponse(batch_json(batch))
