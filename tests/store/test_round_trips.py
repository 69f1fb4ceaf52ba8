"""A straight-through start costs one transaction and a fixed, small number of statements."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import event

from procflow.store.port import IdempotencyRecord, NewAuditEvent, Store
from procflow.store.sql import SqlStore
from tests.store.factories import T0, deploy_in, new_instance


def test_a_start_is_one_insert_per_table(store: Store) -> None:
    assert isinstance(store, SqlStore)
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    events = [NewAuditEvent(f"event{n}", "node", uuid4(), {"n": n}) for n in range(5)]
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()[:3]))

    event.listen(store.engine, "before_cursor_execute", record)
    with store.transaction() as txn:
        key = IdempotencyRecord(deployment.workspace.id, "k", "h", instance.uuid)
        assert txn.insert_idempotency(key)
        txn.insert_instance(instance)
        txn.append_audit(instance.uuid, events, T0)
    event.remove(store.engine, "before_cursor_execute", record)
    writes = [s for s in statements if not s.startswith("BEGIN")]
    assert writes == [
        "INSERT INTO idempotency_keys",
        "INSERT INTO process_instances",
        "INSERT INTO audit_events",
    ]
    with store.transaction() as txn:
        assert len(txn.list_audit(instance.uuid)) == 5
