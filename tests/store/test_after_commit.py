"""What a transaction announces once it has committed (log lines, metrics): only then, never
for a transaction or a savepoint that rolled back, and on SQLite after the write lock is
released, so that the next writer does not wait for it."""

from __future__ import annotations

import logging
import threading

import pytest

from procflow.model.instance import ProcessInstance
from procflow.store.port import Store
from tests.store.factories import deploy_in, new_instance


class _Refused(Exception):
    pass


def test_a_callback_runs_once_the_transaction_has_committed(store: Store) -> None:
    instance = new_instance(deploy_in(store))
    seen: list[ProcessInstance | None] = []

    def read_back() -> None:
        with store.read_transaction() as txn:
            seen.append(txn.get_instance(instance.uuid))

    with store.transaction() as txn:
        txn.insert_instance(instance)
        txn.after_commit(read_back)
        assert seen == []
    assert len(seen) == 1 and seen[0] is not None and seen[0].uuid == instance.uuid


def test_a_rolled_back_transaction_runs_none_of_its_callbacks(store: Store) -> None:
    instance = new_instance(deploy_in(store))
    calls: list[str] = []
    with pytest.raises(_Refused), store.transaction() as txn:
        txn.insert_instance(instance)
        txn.after_commit(lambda: calls.append("announced"))
        raise _Refused
    assert calls == []
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) is None


def test_a_rolled_back_savepoint_takes_its_callbacks_along(store: Store) -> None:
    deployed = deploy_in(store)
    kept, undone = new_instance(deployed), new_instance(deployed)
    calls: list[str] = []
    with store.transaction() as txn:
        txn.insert_instance(kept)
        txn.after_commit(lambda: calls.append("kept"))
        with pytest.raises(_Refused), txn.savepoint():
            txn.insert_instance(undone)
            txn.after_commit(lambda: calls.append("undone"))
            raise _Refused
        with txn.savepoint():
            txn.after_commit(lambda: calls.append("after the savepoint"))
    assert calls == ["kept", "after the savepoint"]


def test_a_failing_callback_is_logged_and_the_commit_stands(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    instance = new_instance(deploy_in(store))
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("metrics backend gone")

    with caplog.at_level(logging.ERROR, logger="procflow.store"), store.transaction() as txn:
        txn.insert_instance(instance)
        txn.after_commit(broken)
        txn.after_commit(lambda: calls.append("still called"))
    assert calls == ["still called"]
    assert [r.getMessage() for r in caplog.records] == ["after-commit callback failed"]
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) is not None


def test_a_callback_does_not_hold_up_the_next_writer(store: Store) -> None:
    """Another thread's write transaction commits while a callback still runs: on SQLite
    the callback runs after the store's write lock is released."""
    deployed = deploy_in(store)
    first, second = new_instance(deployed), new_instance(deployed)
    other_committed = threading.Event()

    def write_second() -> None:
        with store.transaction() as txn:
            txn.insert_instance(second)
        other_committed.set()

    def wait_for_the_other_writer() -> None:
        writer = threading.Thread(target=write_second)
        writer.start()
        assert other_committed.wait(timeout=20), "the next writer waited for the callback"
        writer.join()

    with store.transaction() as txn:
        txn.insert_instance(first)
        txn.after_commit(wait_for_the_other_writer)
    assert other_committed.is_set()
