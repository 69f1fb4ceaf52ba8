"""A transaction's driver cursor is closed before its connection goes back to the pool.

Left to the garbage collector, a sqlite3 cursor resets its last statement whenever the
transaction object dies, and by then another thread may be running that same cached
statement on the same pooled connection: S1 under 32 connections answered a few 500s a
minute ("bad parameter or other API misuse" in the audit insert) before this was fixed.
A threaded test did not reproduce that race in minutes of running; these tests pin down
what prevents it, and fail without the fix."""

from __future__ import annotations

from typing import Any

import pytest

from procflow.store.port import Store, StoreTxn
from procflow.store.sql import SqlTxn
from tests.store.factories import Deployment, deploy_in


class _Refused(Exception):
    pass


def _hot_cursor_of(txn: StoreTxn, deployed: Deployment) -> Any:
    """Run a hot statement, and answer the driver cursor it ran on."""
    assert isinstance(txn, SqlTxn)
    txn.get_active_build_id(deployed.workspace.id, deployed.app.id)
    assert txn._hot_cursor is not None
    return txn._hot_cursor._cursor


def _is_closed(cursor: Any) -> bool:
    closed = getattr(cursor, "closed", None)  # psycopg says so
    if closed is not None:
        return bool(closed)
    try:  # sqlite3 says so only by refusing
        cursor.execute("SELECT 1")
    except Exception as error:
        return "closed cursor" in str(error)
    return False


def test_the_cursor_is_closed_when_the_transaction_commits(store: Store) -> None:
    deployed = deploy_in(store)
    with store.transaction() as txn:
        cursor = _hot_cursor_of(txn, deployed)
        assert not _is_closed(cursor)
    assert _is_closed(cursor)


def test_the_cursor_is_closed_when_the_transaction_rolls_back(store: Store) -> None:
    deployed = deploy_in(store)
    with pytest.raises(_Refused), store.transaction() as txn:
        cursor = _hot_cursor_of(txn, deployed)
        raise _Refused
    assert _is_closed(cursor)


def test_the_cursor_of_a_read_transaction_is_closed_too(store: Store) -> None:
    deployed = deploy_in(store)
    with store.read_transaction() as txn:
        cursor = _hot_cursor_of(txn, deployed)
    assert _is_closed(cursor)


def test_a_finished_transaction_refuses_to_open_another_cursor(store: Store) -> None:
    deployed = deploy_in(store)
    with store.transaction() as txn:
        _hot_cursor_of(txn, deployed)
    with pytest.raises(AssertionError, match="the transaction is over"):
        txn.get_active_build_id(deployed.workspace.id, deployed.app.id)
