"""Batches in SQL: a batch row with its counters, and one row per item.

Mixed into ``SqlTxn``. An item's outcome is written under ``state = 'PENDING'`` with a
row-count check, in the transaction that applied it: an item can be finished only once.
A slice claims its items with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer
anyway), so that two workers running slices of one batch take different items, and adds its
counts to the batch's counters in place rather than writing counters it read earlier.
Copies started by a slice are written with one multi-row statement per table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Integer,
    String,
    Table,
    TextClause,
    Uuid,
    bindparam,
    select,
    text,
    update,
)

from procflow.model.instance import ProcessInstance
from procflow.store import statements as q
from procflow.store.port import BatchItem, BatchRecord, IdempotencyRecord, NewAuditEvent
from procflow.store.schema import (
    UtcDateTime,
    audit_events,
    batch_items,
    batches,
    idempotency_keys,
    process_instances,
)

PENDING = "PENDING"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
# Items are inserted in chunks: a 100,000-item batch must not be one giant statement.
_INSERT_CHUNK = 5_000

_b = batches.c
_bi = batch_items.c
BATCH_COLUMNS = (
    _b.id, _b.workspace_id, _b.operation, _b.state, _b.spec, _b.total, _b.done, _b.failed,
    _b.created_by, _b.created_at, _b.updated_at, _b.finished_at,
)  # fmt: skip
SELECT_BATCH = select(*BATCH_COLUMNS).where(_b.id == bindparam("id"))
SELECT_BATCH_FOR_UPDATE = SELECT_BATCH.with_for_update()
ITEM_COLUMNS = (
    _bi.batch_id, _bi.seq, _bi.source_uuid, _bi.state, _bi.result_uuid, _bi.error,
    _bi.finished_at,
)  # fmt: skip
FINISH_ITEM = (
    update(batch_items)
    .where(
        _bi.batch_id == bindparam("b_batch"), _bi.seq == bindparam("b_seq"), _bi.state == PENDING
    )
    .values(
        state=bindparam("state"),
        result_uuid=bindparam("result_uuid"),
        error=bindparam("error"),
        finished_at=bindparam("finished_at"),
    )
)
SAVE_PROGRESS = (
    update(batches)
    .where(_b.id == bindparam("b_id"))
    .values(
        state=bindparam("state"),
        done=bindparam("done"),
        failed=bindparam("failed"),
        updated_at=bindparam("updated_at"),
        finished_at=bindparam("finished_at"),
    )
)

ADD_PROGRESS = (
    update(batches)
    .where(_b.id == bindparam("b_id"), _b.state == RUNNING)
    .values(
        done=_b.done + bindparam("b_done"),
        failed=_b.failed + bindparam("b_failed"),
        updated_at=bindparam("updated_at"),
    )
)
COMPLETE_BATCH = (
    update(batches)
    .where(_b.id == bindparam("b_id"), _b.state == RUNNING)
    .values(state=COMPLETED, updated_at=bindparam("at"), finished_at=bindparam("at"))
)
ANY_PENDING = (
    select(_bi.seq).where(_bi.batch_id == bindparam("batch_id"), _bi.state == PENDING).limit(1)
)
SELECT_INSTANCES = select(*q.INSTANCE_COLUMNS).where(
    process_instances.c.uuid.in_(bindparam("uuids", expanding=True))
)
_ik = idempotency_keys.c
# PostgreSQL: a slice's outcomes in one UPDATE, from the rows sent as one JSON document.
_PG_FINISH_ITEMS = text(
    "UPDATE batch_items AS b SET state = x.state, result_uuid = x.result_uuid,"
    " error = x.error, finished_at = x.finished_at"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
    " AS x(seq int4, state text, result_uuid uuid, error jsonb, finished_at timestamptz)"
    " WHERE b.batch_id = :batch_id AND b.seq = x.seq AND b.state = 'PENDING'"
)


class BatchStatements:
    """The batch part of ``StoreTxn``, on the transaction's connection."""

    connection: Connection
    _dialect: q.DialectStatements

    after_commit_callbacks: list[Callable[[], None]]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        kept = len(self.after_commit_callbacks)
        try:
            with self.connection.begin_nested():
                yield
        except BaseException:
            # What rolled back with the savepoint is not announced at the commit.
            del self.after_commit_callbacks[kept:]
            raise

    def insert_batch(self, batch: BatchRecord, sources: Sequence[UUID]) -> None:
        self.connection.execute(batches.insert(), asdict(batch))
        # The outcome columns start empty (NULL). On PostgreSQL each chunk is one statement:
        # executemany sent 10,000 items as 10,000 statements, about 0.45 s of the server's
        # CPU (and its GIL, which the live requests share) for one POST.
        rows = [
            {"batch_id": batch.id, "seq": seq, "source_uuid": source, "state": PENDING}
            for seq, source in enumerate(sources, start=1)
        ]  # fmt: skip
        for start in range(0, len(rows), _INSERT_CHUNK):
            self._insert_rows(batch_items, rows[start : start + _INSERT_CHUNK])

    def get_batch(self, batch_id: UUID, *, for_update: bool = False) -> BatchRecord | None:
        statement = SELECT_BATCH_FOR_UPDATE if for_update else SELECT_BATCH
        row = self.connection.execute(statement, {"id": batch_id}).first()
        return BatchRecord(**row._mapping) if row else None

    def list_batch_items(
        self, batch_id: UUID, after: int, limit: int, state: str | None = None
    ) -> list[BatchItem]:
        statement = select(*ITEM_COLUMNS).where(_bi.batch_id == batch_id, _bi.seq > after)
        if state is not None:
            statement = statement.where(_bi.state == state)
        statement = statement.order_by(_bi.seq).limit(limit)
        return [BatchItem(**row._mapping) for row in self.connection.execute(statement)]

    def finish_batch_item(self, item: BatchItem) -> bool:
        return bool(self.connection.execute(FINISH_ITEM, _finish_params(item)).rowcount == 1)

    def claim_batch_items(self, batch_id: UUID, limit: int) -> list[BatchItem]:
        statement = (
            select(*ITEM_COLUMNS)
            .where(_bi.batch_id == batch_id, _bi.state == PENDING)
            .order_by(_bi.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [BatchItem(**row._mapping) for row in self.connection.execute(statement)]

    def has_pending_items(self, batch_id: UUID) -> bool:
        return self.connection.execute(ANY_PENDING, {"batch_id": batch_id}).first() is not None

    def finish_batch_items(self, items: Sequence[BatchItem]) -> int:
        if not items:
            return 0
        rows = [_finish_params(item) for item in items]
        if self._on_postgres():
            document = _rows_document(
                [{"seq": i.seq, "state": i.state, "result_uuid": i.result_uuid,
                  "error": i.error, "finished_at": i.finished_at} for i in items]
            )  # fmt: skip
            if document is not None:
                params = {"batch_id": items[0].batch_id, "rows": document}
                return int(self.connection.execute(_PG_FINISH_ITEMS, params).rowcount)
        return int(self.connection.execute(FINISH_ITEM, rows).rowcount)

    def add_batch_progress(self, batch_id: UUID, done: int, failed: int, at: datetime) -> bool:
        params = {"b_id": batch_id, "b_done": done, "b_failed": failed, "updated_at": at}
        return bool(self.connection.execute(ADD_PROGRESS, params).rowcount == 1)

    def complete_batch(self, batch_id: UUID, at: datetime) -> bool:
        return bool(self.connection.execute(COMPLETE_BATCH, {"b_id": batch_id, "at": at}).rowcount)

    def get_instances(self, uuids: Sequence[UUID]) -> list[ProcessInstance]:
        # Imported here: sql.py mixes this class in, so it cannot be imported at the top.
        from procflow.store.sql import _instance_from_row  # noqa: PLC0415

        if not uuids:
            return []
        rows = self.connection.execute(SELECT_INSTANCES, {"uuids": list(uuids)})
        return [_instance_from_row(row) for row in rows]

    def insert_started(
        self,
        instances: Sequence[ProcessInstance],
        audit: Sequence[tuple[UUID, NewAuditEvent, datetime]],
        keys: Sequence[IdempotencyRecord],
    ) -> bool:
        """New instances with their audit events and idempotency keys, one statement per
        table; False (the instances not written) when one of the keys is taken already."""
        from procflow.store.hot import SQLALCHEMY_VALUES  # noqa: PLC0415
        from procflow.store.sql import _instance_values  # noqa: PLC0415

        if keys:
            created_at = datetime.now(UTC)
            rows = [
                {"workspace_id": key.workspace_id, "key": key.key, "created_at": created_at,
                 "request_hash": key.request_hash, "instance_uuid": key.instance_uuid}
                for key in keys
            ]  # fmt: skip
            taken = self.connection.execute(self._insert_new_keys(), rows).all()
            if len(taken) != len(keys):
                return False
        if instances:
            values = [_instance_values(i, 1, SQLALCHEMY_VALUES) for i in instances]
            self._insert_rows(process_instances, values)
        if audit:
            events = [
                {"instance_uuid": uuid, "type": e.type, "node_id": e.node_id,
                 "token_uuid": e.token_uuid, "details": e.details, "at": at}
                for uuid, e, at in audit
            ]  # fmt: skip
            self._insert_rows(audit_events, events)
        return True

    def _on_postgres(self) -> bool:
        return bool(self.connection.dialect.name == "postgresql")

    def _insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Many rows in one statement: on PostgreSQL an INSERT ... SELECT from the rows sent
        as one JSON document (``jsonb_to_recordset``), rather than the driver's executemany,
        which costs a statement per row; elsewhere (or for values JSON cannot carry)
        executemany."""
        document = _rows_document(rows) if self._on_postgres() else None
        if document is None:
            self.connection.execute(table.insert(), rows)
            return
        statement = _pg_recordset_insert(table, tuple(rows[0]))
        self.connection.execute(statement, {"rows": document})

    def _insert_new_keys(self) -> Any:
        # ON CONFLICT DO NOTHING, answering the keys that went in: a key taken already is
        # seen by its absence, and nothing aborts the transaction (on PostgreSQL an error
        # would).
        statement: Any = self._dialect.insert_idempotency_key
        return statement.returning(_ik.key)

    def save_batch_progress(self, batch: BatchRecord) -> None:
        params = {
            "b_id": batch.id, "state": batch.state, "done": batch.done, "failed": batch.failed,
            "updated_at": batch.updated_at, "finished_at": batch.finished_at,
        }  # fmt: skip
        self.connection.execute(SAVE_PROGRESS, params)


def _finish_params(item: BatchItem) -> dict[str, Any]:
    return {
        "b_batch": item.batch_id, "b_seq": item.seq, "state": item.state,
        "result_uuid": item.result_uuid, "error": item.error, "finished_at": item.finished_at,
    }  # fmt: skip


def _rows_document(rows: list[dict[str, Any]]) -> str | None:
    """The rows as one JSON array (uuids and aware datetimes as orjson writes them, which
    PostgreSQL reads back exactly); None when a value needs the standard library's encoder
    (an integer beyond 64 bits), which cannot write those types: then executemany."""
    from procflow.store.sql import jsonb_dumps_bytes  # noqa: PLC0415

    try:
        return jsonb_dumps_bytes(rows).decode()
    except TypeError:
        return None


def _pg_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JSON):
        return "jsonb"
    if isinstance(kind, Uuid):
        return "uuid"
    if isinstance(kind, UtcDateTime):
        return "timestamptz"
    if isinstance(kind, Integer):
        return "int8"
    if isinstance(kind, String):
        return "text"
    raise TypeError(f"no PostgreSQL type for {column}")


@cache
def _pg_recordset_insert(table: Table, names: tuple[str, ...]) -> TextClause:
    columns = ", ".join(f'"{name}"' for name in names)
    typed = ", ".join(f'"{name}" {_pg_type(table.c[name])}' for name in names)
    return text(
        f'INSERT INTO "{table.name}" ({columns}) SELECT {columns}'
        f" FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x({typed})"
    )
