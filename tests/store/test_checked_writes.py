"""Checked writes (an instance's version check, a job's claim) that wait for the commit.

A job's transaction defers them so that, on PostgreSQL, they travel with the audit rows and
the COMMIT in one round trip. Whatever the store, a refused check must still refuse the
whole transaction, and every other statement must see the writes that wait.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID, uuid4

import pytest
from sqlalchemy import event

from procflow.model.errors import ConcurrentModification
from procflow.model.instance import ProcessInstance
from procflow.store.port import Job, JobClaimLost, NewAuditEvent, NewJob, Store
from procflow.store.postgres import PostgresStore
from tests.store.factories import T0, deploy_in, later, new_instance


def _started(store: Store) -> ProcessInstance:
    instance = new_instance(deploy_in(store))
    with store.transaction() as txn:
        return txn.insert_instance(instance)


def _claimed_job(store: Store, instance_uuid: UUID, worker: str = "w1") -> Job:
    new = NewJob("task", T0, f"{instance_uuid}/a", instance_uuid, "a", uuid4(), "a")
    with store.transaction() as txn:
        txn.enqueue_jobs([new])
    with store.transaction() as txn:
        [job] = txn.claim_jobs(worker, later(1), 30, 10)
    return job


def _moved(instance: ProcessInstance, amount: int) -> ProcessInstance:
    return replace(instance, data={"amount": amount}, updated_at=later(2))


def _stored(store: Store, instance_uuid: UUID) -> ProcessInstance:
    with store.transaction() as txn:
        found = txn.get_instance(instance_uuid)
    assert found is not None
    return found


def test_deferred_writes_commit_with_the_audit_rows(store: Store) -> None:
    instance = _started(store)
    job = _claimed_job(store, instance.uuid)
    with store.transaction() as txn:
        txn.defer_checked_writes()
        saved = txn.update_instance(_moved(instance, 2000))
        txn.append_audit(instance.uuid, [NewAuditEvent("moved", "a", None, {})], later(2))
        txn.complete_job(job.id, "w1")
    assert saved.version == 2
    stored = _stored(store, instance.uuid)
    assert (stored.version, stored.data) == (2, {"amount": 2000})
    with store.transaction() as txn:
        assert txn.list_jobs(instance.uuid) == []
        assert [record.type for record in txn.list_audit(instance.uuid)] == ["moved"]


def test_a_stale_version_refuses_the_whole_transaction_at_its_commit(store: Store) -> None:
    instance = _started(store)
    job = _claimed_job(store, instance.uuid)
    with store.transaction() as txn:
        txn.update_instance(_moved(instance, 1500))  # another writer got there first
    with pytest.raises(ConcurrentModification), store.transaction() as txn:
        txn.defer_checked_writes()
        txn.update_instance(_moved(instance, 2000))
        txn.append_audit(instance.uuid, [NewAuditEvent("moved", "a", None, {})], later(2))
        txn.complete_job(job.id, "w1")
    stored = _stored(store, instance.uuid)
    assert (stored.version, stored.data) == (2, {"amount": 1500})
    with store.transaction() as txn:
        assert [j.id for j in txn.list_jobs(instance.uuid)] == [job.id]  # not completed
        assert txn.list_audit(instance.uuid) == []


def test_a_lost_claim_refuses_the_instance_update_sent_with_it(store: Store) -> None:
    instance = _started(store)
    job = _claimed_job(store, instance.uuid)
    with store.transaction() as txn:
        [taken] = txn.claim_jobs("w2", later(40), 30, 10)  # w1's lease ran out
    assert taken.id == job.id
    with pytest.raises(JobClaimLost), store.transaction() as txn:
        txn.defer_checked_writes()
        txn.update_instance(_moved(instance, 2000))
        txn.complete_job(job.id, "w1")
    assert _stored(store, instance.uuid).version == 1
    with store.transaction() as txn:
        assert [j.locked_until for j in txn.list_jobs(instance.uuid)] == [later(70)]


def test_statements_in_the_transaction_see_the_writes_that_wait(store: Store) -> None:
    instance = _started(store)
    job = _claimed_job(store, instance.uuid)
    with store.transaction() as txn:
        txn.defer_checked_writes()
        txn.update_instance(_moved(instance, 2000))
        reread = txn.get_instance(instance.uuid)  # through the driver's cursor
        txn.complete_job(job.id, "w1")
        jobs = txn.list_jobs(instance.uuid)  # through SQLAlchemy
    assert reread is not None and (reread.version, reread.data) == (2, {"amount": 2000})
    assert jobs == []


def test_a_refusal_met_before_the_commit_is_raised_there(store: Store) -> None:
    instance = _started(store)
    with store.transaction() as txn:
        txn.update_instance(_moved(instance, 1500))
    with pytest.raises(ConcurrentModification), store.transaction() as txn:
        txn.defer_checked_writes()
        txn.update_instance(_moved(instance, 2000))
        txn.get_instance(instance.uuid)  # runs the waiting update first, which is refused
    assert _stored(store, instance.uuid).data == {"amount": 1500}


@pytest.mark.postgres_only
def test_on_postgresql_the_writes_wait_for_the_commit(store: Store) -> None:
    # (SQLite runs each at once: there a statement costs no round trip.)
    assert isinstance(store, PostgresStore)
    instance = _started(store)
    job = _claimed_job(store, instance.uuid)
    sent: list[str] = []

    def record(*args: object) -> None:
        sent.append(" ".join(str(args[2]).split()[:3]))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.transaction() as txn:
            txn.defer_checked_writes()
            txn.update_instance(_moved(instance, 2000))
            txn.complete_job(job.id, "w1")
            before_commit = list(sent)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert before_commit == []
    # Each as its checked form, in the order written, in the COMMIT's pipeline.
    assert sent == ["WITH changed AS", "WITH changed AS"], sent
    assert _stored(store, instance.uuid).version == 2


def test_a_lazy_commit_is_a_commit(store: Store) -> None:
    instance = _started(store)
    with store.transaction() as txn:
        txn.commit_lazily()
        txn.update_instance(_moved(instance, 2000))
    assert _stored(store, instance.uuid).version == 2
