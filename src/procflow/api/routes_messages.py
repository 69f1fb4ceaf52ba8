"""Messages: ``POST /api/runtime/wks/{workspaceId}/messages`` correlates one (the ``action``
role; ``start`` too when it starts an instance)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow.api.bodies import parse_body
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of, read_json_object
from procflow.runtime import messages
from procflow.runtime.context import RuntimeContext

router = APIRouter(tags=["messages"])

# A buffered message lives at most 30 days.
MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000


class MessageBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    messageName: Annotated[str, Field(min_length=1, max_length=200)]
    correlationKey: Annotated[str, Field(max_length=400)] | int | None = None
    data: dict[str, Any] | None = None
    timeToLive: Annotated[int, Field(ge=0, le=MAX_TTL_MS)] = 0
    messageId: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    all: bool = False


@router.post(
    "/api/runtime/wks/{workspaceId}/messages",
    summary="Correlate a message: deliver, start, or buffer it",
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
