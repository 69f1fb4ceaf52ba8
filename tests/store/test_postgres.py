"""PostgreSQL specifics: row locks on instances and NOTIFY wake-ups across processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import event

from procflow.store.port import NewExternalTask, NewJob, Store
from procflow.store.postgres import PostgresStore
from tests.store.factories import T0, deploy_in, later, new_instance
from tests.store.test_jobs import seconds_until_woken

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pg_store(store: Store) -> Store:
    return store


@pytest.fixture
def other_replica(pg_store: Store, store_url: str) -> Iterator[PostgresStore]:
    """A second store on the same database: another replica or worker process."""
    replica = PostgresStore(store_url)
    try:
        yield replica
    finally:
        replica.close()


def test_get_for_update_waits_for_the_lock_holder(
    pg_store: Store, other_replica: PostgresStore
) -> None:
    deployment = deploy_in(pg_store)
    with pg_store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment, data={"n": 0}))
    locked = threading.Event()
    seen_by_second: list[int] = []

    def second_writer() -> None:
        locked.wait(10)
        with other_replica.transaction() as txn:
            current = txn.get_instance(saved.uuid, for_update=True)
            assert current is not None
            seen_by_second.append(current.data["n"])
            txn.update_instance(replace(current, data={"n": current.data["n"] + 1}))

    thread = threading.Thread(target=second_writer)
    thread.start()
    with pg_store.transaction() as txn:
        current = txn.get_instance(saved.uuid, for_update=True)
        assert current is not None
        locked.set()
        time.sleep(0.3)  # the second writer is now blocked on the row lock
        txn.update_instance(replace(current, data={"n": 1}, updated_at=later(1)))
    thread.join(10)
    # The second writer read only after the first committed: no lost update, no conflict.
    assert seen_by_second == [1]
    with pg_store.transaction() as txn:
        final = txn.get_instance(saved.uuid)
    assert final is not None
    assert final.data == {"n": 2}
    assert final.version == 3


def test_enqueue_in_one_replica_wakes_a_worker_in_another(
    pg_store: Store, other_replica: PostgresStore
) -> None:
    assert 0.2 <= seconds_until_woken(other_replica, pg_store) < 10


def test_rolled_back_enqueue_wakes_nobody(pg_store: Store, other_replica: PostgresStore) -> None:
    other_replica.wait_for_jobs(0.01)
    job = NewJob("task", later(0), instance_uuid=uuid4(), wait_id="w1")
    with pytest.raises(RuntimeError), pg_store.transaction() as txn:
        txn.enqueue_jobs([job])
        raise RuntimeError("rolled back")
    started = time.monotonic()
    other_replica.wait_for_jobs(0.3)
    assert time.monotonic() - started >= 0.25


def test_concurrent_migrations_serialize(pg_store: Store, store_url: str) -> None:
    replicas = [PostgresStore(store_url) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(replica: PostgresStore) -> None:
        try:
            replica.migrate()
        except BaseException as error:  # pragma: no cover - the failure this test guards
            errors.append(error)

    threads = [threading.Thread(target=migrate, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for replica in replicas:
        replica.close()
    assert errors == []


def test_a_fetch_locks_and_reads_its_tasks_in_one_statement(pg_store: Store) -> None:
    """Oldest available first, with the instance's data, in one UPDATE ... RETURNING (plus
    the asynchronous-commit setting of a lease)."""
    assert isinstance(pg_store, PostgresStore)
    deployment = deploy_in(pg_store)
    instance = new_instance(deployment, data={"n": 1})
    tasks = [NewExternalTask(uuid4(), instance.uuid, f"w{n}", uuid4(), "work", "t", 3)
             for n in range(3)]  # fmt: skip
    with pg_store.transaction() as txn:
        txn.insert_instance(instance)
        for n, task in enumerate(tasks):
            txn.open_external_tasks([task], T0 + timedelta(seconds=n))
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()[:2]))

    event.listen(pg_store.engine, "before_cursor_execute", record)
    try:
        with pg_store.transaction() as txn:
            locked = txn.lock_external_tasks(
                "w", "t", T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), 10, None
            )
    finally:
        event.remove(pg_store.engine, "before_cursor_execute", record)
    assert [task.id for task in locked] == [task.id for task in tasks]
    assert all(task.data == {"n": 1} and task.locked_by == "w" for task in locked)
    # The lease's commit does not wait for the disk: its SET LOCAL goes with the COMMIT.
    assert statements == ["UPDATE external_tasks"]
