"""The external-task rows of the SQL core: what workers fetch, lock and answer.

``ExternalTaskQueries`` is mixed into ``SqlTxn``; every statement is built once at import.
A fetch joins the instance to skip tasks of instances that are not STARTED (on hold,
failed, ended) and to hand the worker the instance's data; on PostgreSQL concurrent fetches
skip each other's rows (``FOR UPDATE ... SKIP LOCKED``) rather than queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, bindparam, delete, or_, select, update

from procflow.model.states import InstanceState
from procflow.store.hot import HotCursor, HotStatements
from procflow.store.hot_reads import HotSelect, fetch_rows, hot_select
from procflow.store.port import ExternalTask, NewExternalTask, TaskFailure
from procflow.store.schema import external_tasks, process_instances
from procflow.store.statements import INSTANCE_COLUMNS

_t = external_tasks.c
_pi = process_instances.c

_ROW_COLUMNS = (
    *external_tasks.c, _pi.workspace_id, _pi.definition_name, _pi.data, _pi.document,
)  # fmt: skip
_JOINED = external_tasks.join(process_instances, _pi.uuid == _t.instance_uuid)


def _lock_fetchable(by_workspace: bool) -> Any:
    """Lock the fetchable tasks for the worker in one statement; returns their ids."""
    return (
        update(external_tasks)
        .where(_t.id.in_(_fetchable(by_workspace).scalar_subquery()))
        .values(locked_by=bindparam("worker_id"), locked_until=bindparam("locked_until"))
        .returning(_t.id)
    )


def _fetchable(by_workspace: bool) -> Any:
    statement = (
        select(_t.id)
        .select_from(_JOINED)
        .where(
            _t.topic == bindparam("b_topic"),
            _t.retries > 0,
            _t.available_at <= bindparam("b_now"),
            or_(_t.locked_until.is_(None), _t.locked_until <= bindparam("b_now")),
            _pi.state == InstanceState.STARTED.value,
        )
    )
    if by_workspace:
        statement = statement.where(_pi.workspace_id.in_(bindparam("b_workspaces", expanding=True)))
    return (
        statement.order_by(_t.available_at, _t.created_at)
        .limit(bindparam("b_limit"))
        .with_for_update(of=external_tasks, skip_locked=True)
    )


LOCK_ANYWHERE = _lock_fetchable(by_workspace=False)
LOCK_IN_WORKSPACES = _lock_fetchable(by_workspace=True)


def _lock_returning_rows(by_workspace: bool) -> Any:
    """PostgreSQL: the lock and the read in one statement. ``UPDATE ... FROM`` the instance
    returns the task rows with the instance's columns (SQLite's RETURNING may not name the
    joined table, so it keeps the two statements). Rows come back in no set order."""
    return (
        update(external_tasks)
        .where(_t.id.in_(_fetchable(by_workspace).scalar_subquery()))
        .where(_pi.uuid == _t.instance_uuid)
        .values(locked_by=bindparam("worker_id"), locked_until=bindparam("locked_until"))
        .returning(*_ROW_COLUMNS)
    )


LOCK_RETURNING_ANYWHERE = _lock_returning_rows(by_workspace=False)
LOCK_RETURNING_IN_WORKSPACES = _lock_returning_rows(by_workspace=True)
SELECT_BY_IDS = (
    select(*_ROW_COLUMNS)
    .select_from(_JOINED)
    .where(_t.id.in_(bindparam("ids", expanding=True)))
    .order_by(_t.available_at, _t.created_at)
)
SELECT_ONE = select(*_ROW_COLUMNS).select_from(_JOINED).where(_t.id == bindparam("id"))
SELECT_ONE_FOR_UPDATE = SELECT_ONE.with_for_update(of=external_tasks)
SELECT_OF_INSTANCE = (
    select(*_ROW_COLUMNS)
    .select_from(_JOINED)
    .where(_t.instance_uuid == bindparam("instance_uuid"))
    .order_by(_t.created_at, _t.wait_id)
)
# The task a worker answers, with its instance, both locked: the instance first, as every
# writer of an instance locks it (PostgreSQL takes the rows of ``FOR UPDATE OF`` in the
# order it names them), so an answer and a terminate queue rather than deadlock.
TASK_PREFIX = "task_"
SELECT_ANSWERABLE = (
    select(*INSTANCE_COLUMNS, *(c.label(f"{TASK_PREFIX}{c.name}") for c in external_tasks.c))
    .select_from(_JOINED)
    .where(_t.id == bindparam("id"))
    .with_for_update(of=[process_instances, external_tasks])
)
CANCEL = delete(external_tasks).where(
    _t.instance_uuid == bindparam("instance_uuid"),
    _t.wait_id.in_(bindparam("wait_ids", expanding=True)),
)
RETRY = (
    update(external_tasks)
    .where(_t.instance_uuid == bindparam("b_instance_uuid"), _t.wait_id == bindparam("b_wait_id"))
    .values(retries=bindparam("b_retries"), locked_by=None, locked_until=None)
)
SET_LOCK = (
    update(external_tasks)
    .where(_t.id == bindparam("b_id"))
    .values(locked_by=bindparam("b_worker"), locked_until=bindparam("b_until"))
)
RECORD_FAILURE = (
    update(external_tasks)
    .where(_t.id == bindparam("b_id"))
    .values(
        retries=bindparam("b_retries"),
        available_at=bindparam("b_available_at"),
        error_message=bindparam("b_message"),
        error_details=bindparam("b_details"),
        locked_by=None,
        locked_until=None,
    )
)


def _task_from_row(row: Row[Any]) -> ExternalTask:
    return task_from_mapping(row._mapping)


def task_from_mapping(m: Mapping[Any, Any], prefix: str = "") -> ExternalTask:
    """The task of a row; ``prefix`` marks the task's own columns (a row that also holds
    the instance's, as ``SELECT_ANSWERABLE``'s)."""
    p = prefix
    return ExternalTask(
        id=m[f"{p}id"], instance_uuid=m[f"{p}instance_uuid"], wait_id=m[f"{p}wait_id"],
        token_uuid=m[f"{p}token_uuid"], node_id=m[f"{p}node_id"], topic=m[f"{p}topic"],
        retries=m[f"{p}retries"], available_at=m[f"{p}available_at"],
        locked_by=m[f"{p}locked_by"], locked_until=m[f"{p}locked_until"],
        error_message=m[f"{p}error_message"], error_details=m[f"{p}error_details"],
        workspace_id=m["workspace_id"], definition_name=m["definition_name"], data=m["data"],
        document=m["document"],
    )  # fmt: skip


def _hot_lock_params(
    hot: HotCursor,
    worker_id: str,
    topic: str,
    now: datetime,
    locked_until: datetime,
    limit: int,
    workspace_ids: Sequence[UUID] | None,
) -> dict[str, Any]:
    """The lock statements' parameters, as the driver takes them (for the hot cursor)."""
    timestamp, uuid = hot.convert.timestamp, hot.convert.uuid
    params: dict[str, Any] = {
        "b_topic": topic,
        "b_now": timestamp(now),
        "b_limit": limit,
        "worker_id": worker_id,
        "locked_until": timestamp(locked_until),
    }
    if workspace_ids is not None:
        params["b_workspaces"] = [uuid(workspace) for workspace in workspace_ids]
    return params


def _lock_statement(
    hot: HotStatements, statements: tuple[Any, Any], workspace_ids: Sequence[UUID] | None
) -> HotSelect:
    """The lock statement for anywhere or for these workspaces (``statements`` in that order)."""
    anywhere, in_workspaces = statements
    if workspace_ids is None:
        return hot_select(hot, anywhere)
    return hot_select(hot, in_workspaces, _lengths(b_workspaces=workspace_ids))


def _lengths(**lists: Sequence[Any] | None) -> dict[str, int]:
    return {name: len(values) for name, values in lists.items() if values is not None}


class ExternalTaskQueries:
    """The external-task part of ``StoreTxn``."""

    connection: Connection
    _hot_statements: HotStatements

    @property
    def _hot(self) -> HotCursor:
        raise NotImplementedError

    # Set when a task may have become fetchable: the store wakes long-polling fetches.
    external_tasks_changed: bool = False

    def _external_tasks_fetchable(self) -> None:
        self.external_tasks_changed = True

    def open_external_tasks(self, tasks: Sequence[NewExternalTask], now: datetime) -> None:
        if not tasks:
            return
        rows = [
            {"id": t.id, "instance_uuid": t.instance_uuid, "wait_id": t.wait_id,
             "token_uuid": t.token_uuid, "node_id": t.node_id, "topic": t.topic,
             "retries": t.retries, "available_at": now, "locked_by": None,
             "locked_until": None, "error_message": None, "error_details": None,
             "created_at": now}
            for t in tasks
        ]  # fmt: skip
        self.connection.execute(external_tasks.insert(), rows)
        self._external_tasks_fetchable()

    def cancel_external_tasks(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        if not wait_ids:
            return 0
        hot = self._hot
        cancel = hot_select(self._hot_statements, CANCEL, _lengths(wait_ids=wait_ids))
        params = {"instance_uuid": hot.convert.uuid(instance_uuid), "wait_ids": list(wait_ids)}
        return int(hot.execute(cancel.compiled, params).rowcount)

    def retry_external_task(self, instance_uuid: UUID, wait_id: str, retries: int) -> None:
        params = {"b_instance_uuid": instance_uuid, "b_wait_id": wait_id, "b_retries": retries}
        self.connection.execute(RETRY, params)
        self._external_tasks_fetchable()

    def lock_external_tasks(
        self,
        worker_id: str,
        topic: str,
        now: datetime,
        locked_until: datetime,
        limit: int,
        workspace_ids: Sequence[UUID] | None,
    ) -> list[ExternalTask]:
        hot, statements = self._hot, self._hot_statements
        params = _hot_lock_params(hot, worker_id, topic, now, locked_until, limit, workspace_ids)
        lock = _lock_statement(statements, (LOCK_ANYWHERE, LOCK_IN_WORKSPACES), workspace_ids)
        # The ids stay as the driver returned them: they go straight back into the SELECT.
        ids = [row[0] for row in hot.execute(lock.compiled, params).fetchall()]
        if not ids:
            return []
        by_ids = hot_select(statements, SELECT_BY_IDS, _lengths(ids=ids))
        return [task_from_mapping(row) for row in fetch_rows(hot, by_ids, {"ids": ids})]

    def _lock_returning_rows(
        self,
        worker_id: str,
        topic: str,
        now: datetime,
        locked_until: datetime,
        limit: int,
        workspace_ids: Sequence[UUID] | None,
    ) -> list[ExternalTask]:
        """``lock_external_tasks`` in one statement, where the dialect allows it."""
        hot, statements = self._hot, self._hot_statements
        params = _hot_lock_params(hot, worker_id, topic, now, locked_until, limit, workspace_ids)
        lock = _lock_statement(
            statements, (LOCK_RETURNING_ANYWHERE, LOCK_RETURNING_IN_WORKSPACES), workspace_ids
        )
        rows = fetch_rows(hot, lock, params)
        # The order SELECT_BY_IDS gives: oldest available first.
        ordered = sorted(rows, key=lambda row: (row["available_at"], row["created_at"]))
        return [task_from_mapping(row) for row in ordered]

    def get_external_task(self, task_id: UUID, *, for_update: bool = False) -> ExternalTask | None:
        statement = SELECT_ONE_FOR_UPDATE if for_update else SELECT_ONE
        row = self.connection.execute(statement, {"id": task_id}).first()
        return _task_from_row(row) if row is not None else None

    def set_external_task_lock(
        self, task_id: UUID, worker_id: str | None, locked_until: datetime | None
    ) -> None:
        params = {"b_id": task_id, "b_worker": worker_id, "b_until": locked_until}
        self.connection.execute(SET_LOCK, params)
        if worker_id is None:
            self._external_tasks_fetchable()

    def record_external_task_failure(self, task_id: UUID, failure: TaskFailure) -> None:
        params = {"b_id": task_id, "b_retries": failure.retries,
                  "b_available_at": failure.available_at, "b_message": failure.error_message,
                  "b_details": failure.error_details}  # fmt: skip
        self.connection.execute(RECORD_FAILURE, params)
        self._external_tasks_fetchable()

    def list_external_tasks(self, instance_uuid: UUID) -> list[ExternalTask]:
        rows = self.connection.execute(SELECT_OF_INSTANCE, {"instance_uuid": instance_uuid})
        return [_task_from_row(row) for row in rows]
