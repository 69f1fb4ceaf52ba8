"""SQLite specifics: pragmas, BEGIN IMMEDIATE under concurrent writers, read transactions."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Uuid, event
from sqlalchemy.pool import QueuePool

from procflow.model.errors import ConcurrentModification
from procflow.store.schema import UtcDateTime
from procflow.store.sqlite import SqliteStore
from tests.store.factories import deploy_in, new_instance


@pytest.fixture
def sqlite_store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "procflow.db")
    store.migrate()
    return store


def test_connections_use_wal_and_foreign_keys(sqlite_store: SqliteStore) -> None:
    with sqlite_store.engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert isinstance(sqlite_store.engine.pool, QueuePool)
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1,
                      "busy_timeout": 30000}  # fmt: skip
    sqlite_store.close()


def test_read_then_write_transactions_do_not_deadlock(sqlite_store: SqliteStore) -> None:
    """Deferred transactions that read and then write fail with SQLITE_BUSY when two upgrade
    their locks at once; BEGIN IMMEDIATE makes them queue. Every writer here reads, then
    writes the same instance, so each must either save or see a ConcurrentModification."""
    deployment = deploy_in(sqlite_store)
    with sqlite_store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment, data={"count": 0}))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def increment() -> None:
        barrier.wait()
        for _ in range(10):
            try:
                with sqlite_store.transaction() as txn:
                    current = txn.get_instance(saved.uuid, for_update=True)
                    assert current is not None
                    data = {"count": current.data["count"] + 1}
                    txn.update_instance(replace(current, data=data))
            except ConcurrentModification:  # pragma: no cover - exclusive txns never race
                errors.append(ConcurrentModification())
            except Exception as error:  # pragma: no cover - the failure this test guards
                errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite_store.transaction() as txn:
        final = txn.get_instance(saved.uuid)
    assert final is not None
    assert final.data == {"count": 80}
    assert final.version == 81
    sqlite_store.close()


def test_read_transaction_does_not_block_on_a_writer(sqlite_store: SqliteStore) -> None:
    deployment = deploy_in(sqlite_store)
    with sqlite_store.transaction() as writer:
        instance = writer.insert_instance(new_instance(deployment))
        # The writer holds the write lock; a reader in WAL mode still sees the last commit.
        with sqlite_store.read_transaction() as reader:
            assert reader.get_instance(instance.uuid) is None
            assert reader.get_build(deployment.build.id) == deployment.build
    sqlite_store.close()


def test_write_transactions_begin_immediate(sqlite_store: SqliteStore) -> None:
    deployment = deploy_in(sqlite_store)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(sqlite_store.engine, "before_cursor_execute", record)
    with sqlite_store.transaction() as txn:
        txn.get_workspace(deployment.workspace.id)
    with sqlite_store.read_transaction() as txn:
        txn.get_workspace(deployment.workspace.id)
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]
    sqlite_store.close()


def test_hot_statements_write_what_sqlalchemy_writes(sqlite_store: SqliteStore) -> None:
    """The instance INSERT goes through the driver (store/hot.py): its uuids, timestamps and
    JSON must be stored exactly as the column types write them through SQLAlchemy, or
    lookups by uuid and comparisons of timestamp text would miss rows."""
    deployment = deploy_in(sqlite_store)
    on_the_second = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # microsecond 0
    bucharest = datetime(2026, 3, 4, 7, 6, 7, 89, tzinfo=timezone(timedelta(hours=2)))
    instances = [
        new_instance(deployment, created_at=moment) for moment in (on_the_second, bucharest)
    ]
    with sqlite_store.transaction() as txn:
        for instance in instances:
            txn.insert_instance(instance)
    dialect = sqlite_store.engine.dialect
    bind_uuid = Uuid().dialect_impl(dialect).bind_processor(dialect)
    bind_time = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert bind_uuid is not None and bind_time is not None
    with sqlite_store.engine.connect() as connection:
        for instance in instances:
            stored = connection.exec_driver_sql(
                "SELECT created_at, workspace_id FROM process_instances WHERE uuid = ?",
                (bind_uuid(instance.uuid),),
            ).one()
            assert stored[0] == bind_time(instance.created_at)
            assert stored[1] == bind_uuid(instance.workspace_id)
    sqlite_store.close()
