"""Messages: ``POST /api/runtime/wks/{workspaceId}/messages`` correlates one (the ``action``
role; ``start`` too when it starts an instance)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.bodies import parse_body
from procflow.api.plain_params import PlainParamsRoute
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.api.schemas import body, problems
from procflow.api.worker_schemas import MessageBody, MessageResult
from procflow.runtime import messages
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["messages"], route_class=PlainParamsRoute)


@router.post(
    "/api/runtime/wks/{workspaceId}/messages",
    summary="Correlate a message: deliver, start, or buffer it",
    operation_id="correlateMessage",
    response_model=MessageResult,
    responses=problems(400, 401, 403, 404, 413),
    openapi_extra=body(
        MessageBody,
        {
            "paid": {
                "messageName": "payment-received",
                "correlationKey": "order-42",
                "data": {"paid": True},
                "messageId": "pay-42",
            }
        },
    ),
)
async def correlate_message(workspaceId: UUID, request: Request) -> Response:
    principal = principal_of(request)
    body = parse_body(MessageBody, await read_json_object(request, empty_ok=False))
    key = body.correlationKey
    message = messages.MessageRequest(
        name=body.messageName, correlation_key=str(key) if key is not None else None,
        data=body.data or {}, ttl_ms=body.timeToLive, message_id=body.messageId, all=body.all,
    )  # fmt: skip
    ctx: RuntimeContext = request.app.state.ctx
    result = await run_in_threadpool(messages.correlate, ctx, principal, workspaceId, message)
    return JsonResponse(result)
