"""The audit log: append-only, ordered, per instance."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy.exc import DBAPIError

from procflow.store.port import NewAuditEvent, Store, StoreTxn
from procflow.store.sql import SqlTxn
from tests.store.factories import T0, deploy_in, later, new_instance


def test_events_come_back_in_append_order(store: Store) -> None:
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    token = uuid4()
    first = [
        NewAuditEvent("instance_started"),
        NewAuditEvent("token_arrived", "review", token, {"from": "start", "ü": ["✓", 1]}),
    ]
    with store.transaction() as txn:
        txn.insert_instance(instance)
        txn.append_audit(instance.uuid, first, T0)
    with store.transaction() as txn:
        txn.append_audit(
            instance.uuid, [NewAuditEvent("action_executed", "review", token)], later(5)
        )
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
        txn.append_audit(one, [NewAuditEvent("a")], T0)
        txn.append_audit(other, [NewAuditEvent("b")], T0)
    with store.transaction() as txn:
        assert [r.type for r in txn.list_audit(one)] == ["a"]
        assert txn.list_audit(uuid4()) == []


def test_audit_log_has_no_update_or_delete() -> None:
    for txn_class in (StoreTxn, SqlTxn):
        names = [name for name in dir(txn_class) if "audit" in name]
        assert sorted(names) == ["append_audit", "list_audit", "summarize_audit"]


def test_summary_counts_by_type_in_first_seen_order_with_the_last_time(store: Store) -> None:
    instance_uuid = uuid4()
    events = [
        NewAuditEvent("instance_started"),
        NewAuditEvent("task_executed"),
        NewAuditEvent("task_executed"),
        NewAuditEvent("instance_finished"),
    ]
    with store.transaction() as txn:
        txn.append_audit(instance_uuid, events[:2], T0)
        txn.append_audit(instance_uuid, events[2:], later(7))
        txn.append_audit(uuid4(), [NewAuditEvent("elsewhere")], later(60))
    with store.read_transaction() as txn:
        summary = txn.summarize_audit(instance_uuid)
        empty = txn.summarize_audit(uuid4())
    assert list(summary.by_type.items()) == [
        ("instance_started", 1),
        ("task_executed", 2),
        ("instance_finished", 1),
    ]
    assert summary.events == 4
    assert summary.last_at == later(7)
    assert (empty.by_type, empty.events, empty.last_at) == ({}, 0, None)


def test_events_appended_in_a_transaction_are_read_back_in_it(store: Store) -> None:
    """Appended events may travel with the commit; a read of the log in the same
    transaction still sees them, and in order."""
    instance_uuid = uuid4()
    with store.transaction() as txn:
        txn.append_audit(instance_uuid, [NewAuditEvent("a"), NewAuditEvent("b")], T0)
        assert [r.type for r in txn.list_audit(instance_uuid)] == ["a", "b"]
        txn.append_audit(instance_uuid, [NewAuditEvent("c", details={"big": 2**70})], T0)
        assert txn.summarize_audit(instance_uuid).by_type == {"a": 1, "b": 1, "c": 1}
        txn.append_audit(instance_uuid, [NewAuditEvent("d", details={"n": 1e20})], later(1))
    with store.transaction() as txn:
        records = txn.list_audit(instance_uuid)
    assert [r.type for r in records] == ["a", "b", "c", "d"]
    assert records[2].details == {"big": 2**70}
    assert records[3].details == {"n": 1e20}
    assert isinstance(records[3].details["n"], float)


def test_a_failed_commit_of_appended_events_writes_nothing(store: Store) -> None:
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    untyped = NewAuditEvent(None)  # type: ignore[arg-type]  # refused by NOT NULL
    with pytest.raises(DBAPIError), store.transaction() as txn:
        txn.insert_instance(instance)
        txn.append_audit(instance.uuid, [NewAuditEvent("a"), untyped], T0)
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) is None
        assert txn.list_audit(instance.uuid) == []
