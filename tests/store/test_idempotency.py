"""Idempotency keys: unique per workspace; a conflict is an answer, not an error."""

from __future__ import annotations

import threading
from uuid import uuid4

from procflow.store.port import IdempotencyRecord, Store
from tests.store.factories import deploy_in, new_instance


def _record(workspace_id: object = None, key: str = "key-1") -> IdempotencyRecord:
    return IdempotencyRecord(
        workspace_id=workspace_id or uuid4(),  # type: ignore[arg-type]
        key=key,
        request_hash="sha256:req",
        instance_uuid=uuid4(),
    )


def test_insert_then_get(store: Store) -> None:
    record = _record()
    with store.transaction() as txn:
        assert txn.get_idempotency(record.workspace_id, record.key) is None
        assert txn.insert_idempotency(record) is True
    with store.transaction() as txn:
        assert txn.get_idempotency(record.workspace_id, record.key) == record
        assert txn.get_idempotency(uuid4(), record.key) is None


def test_conflict_returns_false_and_the_transaction_still_commits(store: Store) -> None:
    record = _record()
    with store.transaction() as txn:
        txn.insert_idempotency(record)
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    racer = IdempotencyRecord(record.workspace_id, record.key, "sha256:other", uuid4())
    with store.transaction() as txn:
        assert txn.insert_idempotency(racer) is False
        # The failed insert must not have poisoned the transaction (PostgreSQL aborts a
        # transaction on any error): later writes still work and commit.
        txn.insert_instance(instance)
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) is not None
        assert txn.get_idempotency(record.workspace_id, record.key) == record


def test_same_key_in_another_workspace_is_independent(store: Store) -> None:
    first = _record(key="shared")
    second = _record(key="shared")
    with store.transaction() as txn:
        assert txn.insert_idempotency(first) is True
        assert txn.insert_idempotency(second) is True


def test_concurrent_inserts_have_one_winner(store: Store) -> None:
    workspace_id = uuid4()
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        with store.transaction() as txn:
            results.append(txn.insert_idempotency(_record(workspace_id, "race")))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
