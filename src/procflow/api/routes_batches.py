"""Batches (the ``operate`` role): create (or dry-run), progress, items, cancel."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api import schemas
from procflow.api.batch_requests import batch_request
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.api.routes_instances import CURSOR_PATTERN
from procflow.api.schemas import problems
from procflow.runtime import batches
from procflow.runtime.batch_spec import ItemState
from procflow.runtime.context import RuntimeContext
from procflow.store.port import BatchItem, BatchRecord

router = APIRouter(tags=["batches"])

BATCHES = "/api/runtime/wks/{workspaceId}/batches"

# 400: a path parameter that is not a UUID, a bad query parameter.
READ_ERRORS = problems(400, 401, 403, 404)
CREATED = {
    "description": "The batch is created with all its items; the worker applies it.",
    "headers": {
        "Location": {
            "description": "Where the batch's progress is read.",
            "schema": {"type": "string"},
        }
    },
}
DRY_RUN = {
    "model": schemas.BatchDryRun,
    "description": "``dryRun``: the item count and what the first items would do.",
}
EXAMPLE_BATCH = {
    "operation": "copyDataFrom",
    "filter": {"processName": "loan_application", "state": ["FAILED"]},
    "body": {"retryReason": "outage"},
}


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


@router.post(
    BATCHES,
    status_code=202,
    summary="Create a batch (copyDataFrom, retry, terminate)",
    operation_id="createBatch",
    response_model=schemas.Batch,
    responses={202: CREATED, 200: DRY_RUN, **problems(400, 401, 403, 404, 413)},
    openapi_extra=schemas.body(schemas.CreateBatch, {"rerun": EXAMPLE_BATCH}),
)
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


@router.get(
    BATCHES + "/{batchId}",
    summary="A batch's progress",
    operation_id="getBatch",
    response_model=schemas.Batch,
    responses=READ_ERRORS,
)
async def get_batch(workspaceId: UUID, batchId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    batch = await run_in_threadpool(
        batches.get_batch, _ctx(request), principal, workspaceId, batchId
    )
    return JsonResponse(batch_json(batch))


@router.get(
    BATCHES + "/{batchId}/items",
    summary="A batch's items, cursor-paginated by seq",
    operation_id="listBatchItems",
    response_model=schemas.BatchItemPage,
    responses=READ_ERRORS,
)
async def list_batch_items(
    workspaceId: UUID,
    batchId: UUID,
    request: Request,
    state: ItemState | None = None,
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="The nextCursor of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    principal = principal_of(request)
    after = int(cursor) if cursor is not None else 0
    found = await run_in_threadpool(
        lambda: batches.batch_items(
            _ctx(request), principal, workspaceId, batchId, after=after, limit=limit + 1,
            state=state.value if state else None,
        )
    )  # fmt: skip
    page = found[:limit]
    next_cursor = str(page[-1].seq) if len(found) > limit else None
    return JsonResponse({"content": [item_json(i) for i in page], "nextCursor": next_cursor})


@router.post(
    BATCHES + "/{batchId}/cancel",
    summary="Cancel a running batch: the items applied stay applied, the rest are not",
    operation_id="cancelBatch",
    response_model=schemas.Batch,
    # 409: the batch is finished already (answered with its state).
    responses=problems(400, 401, 403, 404, 409),
)
async def cancel_batch(workspaceId: UUID, batchId: UUID, request: Request) -> Response:
    # No body, like holdInstance: nothing in one would change what a cancel does.
    principal = principal_of(request)
    batch = await run_in_threadpool(
        batches.cancel_batch, _ctx(request), principal, workspaceId, batchId
    )
    return JsonResponse(batch_json(batch))
