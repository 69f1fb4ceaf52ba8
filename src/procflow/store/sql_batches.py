"""Batches in SQL: a batch row with its counters, and one row per item.

Mixed into ``SqlTxn``. An item's outcome is written under ``state = 'PENDING'`` with a
row-count check, in the transaction that applied it: an item can be finished only once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, select, update

from procflow.store.port import BatchItem, BatchRecord
from procflow.store.schema import batch_items, batches

PENDING = "PENDING"
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


class BatchStatements:
    """The batch part of ``StoreTxn``, on the transaction's connection."""

    connection: Connection

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.connection.begin_nested():
            yield

    def insert_batch(self, batch: BatchRecord, sources: Sequence[UUID]) -> None:
        self.connection.execute(batches.insert(), asdict(batch))
        rows = [
            {"batch_id": batch.id, "seq": seq, "source_uuid": source, "state": PENDING,
             "result_uuid": None, "error": None, "finished_at": None}
            for seq, source in enumerate(sources, start=1)
        ]  # fmt: skip
        for start in range(0, len(rows), _INSERT_CHUNK):
            self.connection.execute(batch_items.insert(), rows[start : start + _INSERT_CHUNK])

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
        params: dict[str, Any] = {
            "b_batch": item.batch_id, "b_seq": item.seq, "state": item.state,
            "result_uuid": item.result_uuid, "error": item.error,
            "finished_at": item.finished_at,
        }  # fmt: skip
        return bool(self.connection.execute(FINISH_ITEM, params).rowcount == 1)

    def save_batch_progress(self, batch: BatchRecord) -> None:
        params = {
            "b_id": batch.id, "state": batch.state, "done": batch.done, "failed": batch.failed,
            "updated_at": batch.updated_at, "finished_at": batch.finished_at,
        }  # fmt: skip
        self.connection.execute(SAVE_PROGRESS, params)
