"""The audit log: append-only, ordered, per instance."""

from __future__ import annotations

from uuid import uuid4

from procflow.engine.events import AuditEvent
from procflow.store.port import Store, StoreTxn
from procflow.store.sql import SqlTxn
from tests.store.factories import T0, deploy_in, later, new_instance


def test_events_come_back_in_append_order(store: Store) -> None:
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    token = uuid4()
    first = [
        AuditEvent("instance_started"),
        AuditEvent("token_arrived", "review", token, {"from": "start", "ü": ["✓", 1]}),
    ]
    with store.transaction() as txn:
        txn.insert_instance(instance)
        txn.append_audit(instance.uuid, first, T0)
    with store.transaction() as txn:
        txn.append_audit(instance.uuid, [AuditEvent("action_executed", "review", token)], later(5))
        txn.append_audit(instance.uuid, [], later(6))
    with store.transaction() as txn:
        records = txn.list_audit(instance.uuid)
    assert [r.type for r in records] == ["instance_started", "token_arrived", "action_executed"]
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert len({r.seq for r in records}) == 3
    assert records[1].node_id == "review"
    assert records[1].token_uuid == token
    assert records[1].details == {"from": "start", "ü": ["✓", 1]}
    assert records[0].node_id is None
    assert records[0].token_uuid is None
    assert records[0].details == {}
    assert [r.at for r in records] == [T0, T0, later(5)]
    assert all(r.instance_uuid == instance.uuid for r in records)


def test_logs_of_instances_are_separate(store: Store) -> None:
    one, other = uuid4(), uuid4()
    with store.transaction() as txn:
        txn.append_audit(one, [AuditEvent("a")], T0)
        txn.append_audit(other, [AuditEvent("b")], T0)
    with store.transaction() as txn:
        assert [r.type for r in txn.list_audit(one)] == ["a"]
        assert txn.list_audit(uuid4()) == []


def test_audit_log_has_no_update_or_delete() -> None:
    for txn_class in (StoreTxn, SqlTxn):
        names = [name for name in dir(txn_class) if "audit" in name]
        assert sorted(names) == ["append_audit", "list_audit"]
