"""Message subscriptions, buffered messages and messageId answers in the SQL core.

``MessageQueries`` is mixed into ``SqlTxn``. Subscriptions are found through their instance
(workspace, STARTED); buffered messages are taken oldest first, and on PostgreSQL two
transactions never take the same one (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Insert, Row, bindparam, delete, select

from procflow.model.states import InstanceState
from procflow.store.port import BufferedMessage, NewSubscription, Subscription
from procflow.store.schema import (
    active_builds,
    buffered_messages,
    message_results,
    message_subscriptions,
    process_instances,
)

_s = message_subscriptions.c
_b = buffered_messages.c
_r = message_results.c
_pi = process_instances.c


def _matching(with_key: bool, for_update: bool) -> Any:
    statement = (
        select(*message_subscriptions.c)
        .select_from(message_subscriptions.join(process_instances, _pi.uuid == _s.instance_uuid))
        .where(
            _pi.workspace_id == bindparam("workspace_id"),
            _pi.state == InstanceState.STARTED.value,
            _s.message_name == bindparam("name"),
            _s.correlation_key == bindparam("key") if with_key else _s.correlation_key.is_(None),
        )
        .order_by(_s.id)
        .limit(bindparam("limit"))
    )
    return statement.with_for_update(of=message_subscriptions) if for_update else statement


MATCHING = {(k, u): _matching(k, u) for k in (True, False) for u in (True, False)}
SUBSCRIPTION = select(*message_subscriptions.c).where(
    _s.instance_uuid == bindparam("instance_uuid"), _s.wait_id == bindparam("wait_id")
)
CANCEL_SUBSCRIPTIONS = delete(message_subscriptions).where(
    _s.instance_uuid == bindparam("instance_uuid"),
    _s.wait_id.in_(bindparam("wait_ids", expanding=True)),
)


def _buffered(with_key: bool) -> Any:
    return (
        select(*buffered_messages.c)
        .where(
            _b.workspace_id == bindparam("workspace_id"),
            _b.message_name == bindparam("name"),
            _b.correlation_key == bindparam("key") if with_key else _b.correlation_key.is_(None),
            _b.expires_at > bindparam("now"),
        )
        .order_by(_b.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


BUFFERED = {True: _buffered(True), False: _buffered(False)}
DELETE_BUFFERED = delete(buffered_messages).where(_b.id == bindparam("id"))
DELETE_EXPIRED_BUFFERED = delete(buffered_messages).where(_b.expires_at <= bindparam("now"))
MESSAGE_RESULT = select(_r.result).where(
    _r.workspace_id == bindparam("workspace_id"),
    _r.message_id == bindparam("message_id"),
    _r.expires_at > bindparam("now"),
)
DELETE_EXPIRED_RESULT = delete(message_results).where(
    _r.workspace_id == bindparam("workspace_id"),
    _r.message_id == bindparam("message_id"),
    _r.expires_at <= bindparam("now"),
)
WORKSPACE_ACTIVE_BUILDS = (
    select(active_builds.c.build_id)
    .where(active_builds.c.workspace_id == bindparam("workspace_id"))
    .order_by(active_builds.c.app_id)
)


def _subscription(row: Row[Any]) -> Subscription:
    m = row._mapping
    return Subscription(m["id"], m["instance_uuid"], m["wait_id"], m["token_uuid"],
                        m["node_id"], m["message_name"], m["correlation_key"])  # fmt: skip


class MessageQueries:
    """The message part of ``StoreTxn``."""

    connection: Connection
    _message_result_insert: Insert

    def open_subscriptions(self, subscriptions: Sequence[NewSubscription], now: datetime) -> None:
        if not subscriptions:
            return
        rows = [
            {"instance_uuid": s.instance_uuid, "wait_id": s.wait_id, "token_uuid": s.token_uuid,
             "node_id": s.node_id, "message_name": s.message_name,
             "correlation_key": s.correlation_key, "created_at": now}
            for s in subscriptions
        ]  # fmt: skip
        self.connection.execute(message_subscriptions.insert(), rows)

    def cancel_subscriptions(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        if not wait_ids:
            return 0
        params = {"instance_uuid": instance_uuid, "wait_ids": list(wait_ids)}
        return int(self.connection.execute(CANCEL_SUBSCRIPTIONS, params).rowcount)

    def matching_subscriptions(
        self,
        workspace_id: UUID,
        message_name: str,
        correlation_key: str | None,
        limit: int | None,
        *,
        for_update: bool = False,
    ) -> list[Subscription]:
        statement = MATCHING[(correlation_key is not None, for_update)]
        params = {"workspace_id": workspace_id, "name": message_name, "key": correlation_key,
                  "limit": limit if limit is not None else 1_000_000}  # fmt: skip
        return [_subscription(row) for row in self.connection.execute(statement, params)]

    def get_subscription(
        self, instance_uuid: UUID, wait_id: str, *, for_update: bool = False
    ) -> Subscription | None:
        statement = SUBSCRIPTION.with_for_update() if for_update else SUBSCRIPTION
        params = {"instance_uuid": instance_uuid, "wait_id": wait_id}
        row = self.connection.execute(statement, params).first()
        return _subscription(row) if row is not None else None

    def buffer_message(self, message: BufferedMessage, now: datetime) -> None:
        self.connection.execute(DELETE_EXPIRED_BUFFERED, {"now": now})
        self.connection.execute(
            buffered_messages.insert(),
            {"workspace_id": message.workspace_id, "message_name": message.message_name,
             "correlation_key": message.correlation_key, "data": message.data,
             "message_id": message.message_id, "expires_at": message.expires_at,
             "created_at": now},
        )  # fmt: skip

    def take_buffered_message(
        self, workspace_id: UUID, message_name: str, correlation_key: str | None, now: datetime
    ) -> BufferedMessage | None:
        params = {"workspace_id": workspace_id, "name": message_name, "key": correlation_key,
                  "now": now}  # fmt: skip
        row = self.connection.execute(BUFFERED[correlation_key is not None], params).first()
        if row is None:
            return None
        self.connection.execute(DELETE_BUFFERED, {"id": row.id})
        return BufferedMessage(row.workspace_id, row.message_name, row.correlation_key,
                               row.data, row.message_id, row.expires_at)  # fmt: skip

    def get_message_result(
        self, workspace_id: UUID, message_id: str, now: datetime
    ) -> dict[str, Any] | None:
        params = {"workspace_id": workspace_id, "message_id": message_id, "now": now}
        result: dict[str, Any] | None = self.connection.execute(MESSAGE_RESULT, params).scalar()
        return result

    def put_message_result(
        self,
        workspace_id: UUID,
        message_id: str,
        result: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        params = {"workspace_id": workspace_id, "message_id": message_id, "now": now}
        self.connection.execute(DELETE_EXPIRED_RESULT, params)
        values = {"workspace_id": workspace_id, "message_id": message_id, "result": result,
                  "expires_at": expires_at}  # fmt: skip
        return bool(self.connection.execute(self._message_result_insert, values).rowcount == 1)

    def workspace_active_builds(self, workspace_id: UUID) -> list[UUID]:
        rows = self.connection.execute(WORKSPACE_ACTIVE_BUILDS, {"workspace_id": workspace_id})
        return [row.build_id for row in rows]
