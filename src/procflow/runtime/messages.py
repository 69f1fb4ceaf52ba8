"""Correlating a message: to the oldest waiting subscription (or all of them), else to the
message start events of the workspace's active builds, else into the buffer (with a time to
live), all in one transaction with the instance updates, so that under kill -9 an answered
message is never lost and two concurrent messages never both take one subscription.

Lock order, as for every writer: instances first (sorted by uuid), then their subscription
rows. The subscriptions are read once without locks to learn which instances to lock, and
again under the locks; if the two disagree another message won the race and the attempt
runs again (``RetryableConflict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from procflow.engine.events import AuditEvent, MessageCorrelated, Start
from procflow.model.data import JsonObject
from procflow.model.errors import WorkspaceNotFound
from procflow.model.instance import ProcessInstance
from procflow.runtime.access import Principal, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import RetryableConflict, apply_step, run_command
from procflow.store.port import BufferedMessage, StoreTxn, Subscription

# How long a messageId is remembered when its time to live is shorter.
DEDUP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class MessageRequest:
    name: str
    correlation_key: str | None = None
    data: JsonObject = field(default_factory=dict)
    ttl_ms: int = 0
    message_id: str | None = None
    all: bool = False


def correlate(
    ctx: RuntimeContext, principal: Principal, workspace_id: UUID, request: MessageRequest
) -> dict[str, Any]:
    principal.require(workspace_id, Role.ACTION, WorkspaceNotFound())
    message_id = request.message_id or str(uuid4())

    def attempt(txn: StoreTxn, now: datetime) -> dict[str, Any]:
        if request.message_id is not None:
            earlier = txn.get_message_result(workspace_id, request.message_id, now)
            if earlier is not None:
                return earlier
        correlated = _deliver(ctx, txn, workspace_id, request, now)
        started = [] if correlated else _start(ctx, txn, principal, workspace_id, request, now)
        buffered = not correlated and not started and request.ttl_ms > 0
        if buffered:
            expires_at = now + timedelta(milliseconds=request.ttl_ms)
            message = BufferedMessage(workspace_id, request.name, request.correlation_key,
                                      request.data, message_id, expires_at)  # fmt: skip
            txn.buffer_message(message, now)
        result = {"messageId": message_id, "correlated": correlated, "started": started,
                  "buffered": buffered}  # fmt: skip
        _remember(txn, workspace_id, request, result, now)
        return result

    return run_command(ctx, attempt)


def _remember(
    txn: StoreTxn, workspace_id: UUID, request: MessageRequest, result: dict[str, Any],
    now: datetime,
) -> None:  # fmt: skip
    if request.message_id is None:
        return
    expires_at = now + max(DEDUP_WINDOW, timedelta(milliseconds=request.ttl_ms))
    if not txn.put_message_result(workspace_id, request.message_id, result, now, expires_at):
        raise RetryableConflict()  # the same messageId answered concurrently: answer that


def _deliver(
    ctx: RuntimeContext, txn: StoreTxn, workspace_id: UUID, request: MessageRequest,
    now: datetime,
) -> list[dict[str, str]]:  # fmt: skip
    limit = None if request.all else 1
    key, name = request.correlation_key, request.name
    seen = txn.matching_subscriptions(workspace_id, name, key, limit)
    if not seen:
        return []
    instances = _lock(txn, {s.instance_uuid for s in seen})
    current = txn.matching_subscriptions(workspace_id, name, key, limit, for_update=True)
    if not {s.instance_uuid for s in current} <= set(instances):
        raise RetryableConflict()
    return [
        delivered
        for subscription in current
        if (delivered := _deliver_one(ctx, txn, instances, subscription, request, now))
    ]


def _lock(txn: StoreTxn, uuids: set[UUID]) -> dict[UUID, ProcessInstance]:
    locked: dict[UUID, ProcessInstance] = {}
    for uuid in sorted(uuids):
        instance = txn.get_instance(uuid, for_update=True)
        if instance is not None:
            locked[uuid] = instance
    return locked


def _deliver_one(
    ctx: RuntimeContext,
    txn: StoreTxn,
    instances: dict[UUID, ProcessInstance],
    subscription: Subscription,
    request: MessageRequest,
    now: datetime,
) -> dict[str, str] | None:
    instance = instances[subscription.instance_uuid]
    if all(wait.id != subscription.wait_id for wait in instance.waits):
        return None  # cancelled by a delivery just made (a sibling event-gateway branch)
    event = MessageCorrelated(subscription.wait_id, request.name, request.data)
    instances[instance.uuid] = apply_step(ctx, txn, instance, event, now).instance
    return {"processInstanceUuid": str(instance.uuid), "nodeId": subscription.node_id,
            "tokenUuid": str(subscription.token_uuid)}  # fmt: skip


def _start(
    ctx: RuntimeContext,
    txn: StoreTxn,
    principal: Principal,
    workspace_id: UUID,
    request: MessageRequest,
    now: datetime,
) -> list[dict[str, str]]:
    """One instance per message start event of this name in the workspace's active builds."""
    started: list[dict[str, str]] = []
    for build_id in txn.workspace_active_builds(workspace_id):
        build = ctx.catalog.build(txn, build_id)
        for source in build.definitions:
            definition = ctx.catalog.definition(source)
            for start in definition.start_nodes:
                if start.message is None or start.message.name != request.name:
                    continue
                principal.require(workspace_id, Role.START, WorkspaceNotFound())
                instance = ProcessInstance(
                    uuid=uuid4(), workspace_id=workspace_id, app_id=build.app_id,
                    build_id=build.id, definition_id=source.id,
                    definition_name=definition.name, created_at=now, updated_at=now,
                    data=dict(request.data),
                )  # fmt: skip
                details = {"buildId": str(build.id), "messageStart": {"nodeId": start.id,
                           "messageName": request.name}}  # fmt: skip
                created = AuditEvent("instance_created", details=details)
                apply_step(ctx, txn, instance, Start(start.id), now, build=build,
                           is_new=True, prelude=(created,))  # fmt: skip
                started.append({"processInstanceUuid": str(instance.uuid)})
    return started
