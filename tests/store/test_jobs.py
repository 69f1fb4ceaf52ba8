"""Jobs: due-time, leases and their expiry, completion, release for retry, concurrent claims."""

from __future__ import annotations

import threading
import time
from uuid import UUID, uuid4

import pytest

from procflow.store.port import Job, JobClaimLost, NewJob, Store
from tests.store.factories import T0, later


def _job(instance_uuid: UUID, wait: str, at: float = 0, kind: str = "task") -> NewJob:
    return NewJob(
        kind, later(at), f"{instance_uuid}/{wait}", instance_uuid, wait, uuid4(), f"node_{wait}"
    )


def _enqueue(store: Store, count: int = 1, run_at_seconds: float = 0) -> UUID:
    instance_uuid = uuid4()
    jobs = [_job(instance_uuid, f"task{n}", run_at_seconds) for n in range(count)]
    with store.transaction() as txn:
        txn.enqueue_jobs(jobs)
    return instance_uuid


def _claim(store: Store, worker: str, at: float, lease: float = 30, limit: int = 10) -> list[Job]:
    with store.transaction() as txn:
        return txn.claim_jobs(worker, later(at), lease, limit)


def test_claim_returns_due_jobs_with_a_lease(store: Store) -> None:
    instance_uuid = _enqueue(store, count=2)
    claimed = _claim(store, "w1", at=1, lease=30)
    assert [job.wait_id for job in claimed] == ["task0", "task1"]
    job = claimed[0]
    assert job.kind == "task"
    assert job.node_id == "node_task0"
    assert job.key == f"{instance_uuid}/task0"
    assert job.instance_uuid == instance_uuid
    assert isinstance(job.token_uuid, UUID)
    assert job.attempts == 1
    assert job.run_at == T0
    assert job.locked_until == later(31)
    assert job.id < claimed[1].id


def test_jobs_not_yet_due_are_not_claimed(store: Store) -> None:
    _enqueue(store, run_at_seconds=60)
    assert _claim(store, "w1", at=59) == []
    assert len(_claim(store, "w1", at=60)) == 1


def test_claim_respects_the_limit_and_due_order(store: Store) -> None:
    _enqueue(store, count=1, run_at_seconds=20)
    _enqueue(store, count=3, run_at_seconds=10)
    first = _claim(store, "w1", at=30, limit=2)
    assert [job.run_at for job in first] == [later(10), later(10)]
    rest = _claim(store, "w2", at=30, limit=10)
    assert [job.run_at for job in rest] == [later(10), later(20)]


def test_a_leased_job_is_invisible_until_the_lease_expires(store: Store) -> None:
    _enqueue(store)
    [job] = _claim(store, "w1", at=0, lease=30)
    assert _claim(store, "w2", at=29) == []
    [again] = _claim(store, "w2", at=31)
    assert again.id == job.id
    assert again.attempts == 2
    # The first worker's lease is gone: it may no longer complete the job.
    with pytest.raises(JobClaimLost), store.transaction() as txn:
        txn.complete_job(job.id, "w1")
    with store.transaction() as txn:
        txn.complete_job(job.id, "w2")


def test_complete_deletes_the_job_once(store: Store) -> None:
    _enqueue(store)
    [job] = _claim(store, "w1", at=0)
    with store.transaction() as txn:
        txn.complete_job(job.id, "w1")
    with pytest.raises(JobClaimLost), store.transaction() as txn:
        txn.complete_job(job.id, "w1")
    assert _claim(store, "w1", at=3600) == []


def test_continue_turns_a_claimed_job_into_its_claimed_follow_up(store: Store) -> None:
    instance_uuid = _enqueue(store)
    [job] = _claim(store, "w1", at=0, lease=30)
    follow_up = _job(instance_uuid, "next", at=5)
    with store.transaction() as txn:
        continued = txn.continue_job(job, "w1", follow_up, later(5), 30)
    assert continued == Job(
        job.id,
        "task",
        attempts=1,
        run_at=later(5),
        instance_uuid=instance_uuid,
        wait_id="next",
        token_uuid=follow_up.token_uuid,
        node_id="node_next",
        key=f"{instance_uuid}/next",
        locked_until=later(35),
    )
    # Still claimed by w1 until its new lease ends; then anyone may take it over.
    assert _claim(store, "w2", at=34) == []
    [taken] = _claim(store, "w2", at=36)
    assert (taken.id, taken.wait_id, taken.token_uuid) == (job.id, "next", follow_up.token_uuid)


def test_continue_fails_without_the_claim(store: Store) -> None:
    instance_uuid = _enqueue(store)
    [job] = _claim(store, "w1", at=0, lease=30)
    [_] = _claim(store, "w2", at=31)
    follow_up = _job(instance_uuid, "next")
    with pytest.raises(JobClaimLost), store.transaction() as txn:
        txn.continue_job(job, "w1", follow_up, later(32), 30)


def test_a_job_whose_key_is_queued_already_is_skipped(store: Store) -> None:
    instance_uuid = uuid4()
    with store.transaction() as txn:
        txn.enqueue_jobs([_job(instance_uuid, "w1"), _job(instance_uuid, "w1", at=5)])
    with store.transaction() as txn:
        txn.enqueue_jobs([_job(instance_uuid, "w1", at=9), _job(instance_uuid, "w2")])
        jobs = txn.list_jobs(instance_uuid)
    assert [(job.wait_id, job.run_at) for job in jobs] == [("w1", T0), ("w2", T0)]


def test_cancel_drops_the_jobs_of_those_waits_claimed_or_not(store: Store) -> None:
    instance_uuid = _enqueue(store, count=3)
    other = _enqueue(store, count=1)
    [claimed, *_] = _claim(store, "w1", at=0, limit=1)
    with store.transaction() as txn:
        assert txn.cancel_jobs(instance_uuid, [claimed.wait_id or "", "task2", "nope"]) == 2
        assert txn.cancel_jobs(instance_uuid, []) == 0
        assert [job.wait_id for job in txn.list_jobs(instance_uuid)] == ["task1"]
        assert len(txn.list_jobs(other)) == 1
        # The claim is gone with the row: its worker can no longer complete it.
        with pytest.raises(JobClaimLost):
            txn.complete_job(claimed.id, "w1")


def test_cancel_by_key_prefix_treats_like_wildcards_as_text(store: Store) -> None:
    jobs = [
        NewJob("timer_start", T0, key=key)
        for key in ("start/app_1/a", "start/app_1/b", "start/appX1/c", "start/app_10/d")
    ]
    with store.transaction() as txn:
        txn.enqueue_jobs(jobs)
        assert txn.cancel_jobs_with_key_prefix("start/app_1/") == 2
    remaining = _claim(store, "w1", at=0)
    assert sorted(job.key or "" for job in remaining) == ["start/appX1/c", "start/app_10/d"]


def test_held_jobs_are_not_claimed_until_released(store: Store) -> None:
    instance_uuid = _enqueue(store, count=2)
    other = _enqueue(store)
    with store.transaction() as txn:
        txn.hold_jobs(instance_uuid, True)
    assert [job.instance_uuid for job in _claim(store, "w1", at=0)] == [other]
    with store.transaction() as txn:
        txn.hold_jobs(instance_uuid, False)
    assert len(_claim(store, "w2", at=0)) == 2


def test_a_parked_job_is_held_and_its_attempt_not_counted(store: Store) -> None:
    instance_uuid = _enqueue(store)
    [job] = _claim(store, "w1", at=0)
    with store.transaction() as txn:
        assert txn.park_job(job.id, "someone-else") is False
        assert txn.park_job(job.id, "w1") is True
    assert _claim(store, "w2", at=3600) == []
    with store.transaction() as txn:
        txn.hold_jobs(instance_uuid, False)
    [again] = _claim(store, "w2", at=1)
    assert (again.id, again.attempts) == (job.id, 1)


def test_release_reschedules_the_job_for_anyone(store: Store) -> None:
    _enqueue(store)
    [job] = _claim(store, "w1", at=0)
    with store.transaction() as txn:
        txn.release_job(job.id, "w1", later(100), "boom: connection reset")
        txn.release_job(job.id, "someone-else", later(1), "ignored: not their job")
    assert _claim(store, "w2", at=99) == []
    [retry] = _claim(store, "w2", at=100)
    assert retry.id == job.id
    assert retry.attempts == 2
    assert retry.run_at == later(100)


def test_completed_job_ids_are_never_reused(store: Store) -> None:
    _enqueue(store)
    [job] = _claim(store, "w1", at=0)
    with store.transaction() as txn:
        txn.complete_job(job.id, "w1")
    _enqueue(store)
    [fresh] = _claim(store, "w1", at=0)
    assert fresh.id > job.id


def test_enqueue_nothing_is_a_no_op(store: Store) -> None:
    with store.transaction() as txn:
        txn.enqueue_jobs([])
    assert _claim(store, "w1", at=0) == []


def test_concurrent_claimers_never_share_a_job(store: Store) -> None:
    _enqueue(store, count=40)
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while batch := _claim(store, name, at=1, limit=3):
            mine.extend(job.id for job in batch)
        claimed[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every_id = [job_id for ids in claimed.values() for job_id in ids]
    assert len(every_id) == 40
    assert len(set(every_id)) == 40


# SKIP LOCKED is PostgreSQL's; SQLite serializes write transactions.
@pytest.mark.postgres_only
def test_skip_locked_lets_a_second_claimer_pass_an_open_claim(store: Store) -> None:
    _enqueue(store, count=4)
    first_claimed = threading.Event()
    release_first = threading.Event()
    first: list[Job] = []

    def hold_a_claim_open() -> None:
        with store.transaction() as txn:
            first.extend(txn.claim_jobs("w1", later(1), 30, 2))
            first_claimed.set()
            release_first.wait(10)

    holder = threading.Thread(target=hold_a_claim_open)
    holder.start()
    try:
        assert first_claimed.wait(10)
        started = time.monotonic()
        # The first transaction has not committed: its rows are locked, not yet leased.
        second = _claim(store, "w2", at=1, limit=10)
        assert time.monotonic() - started < 5
    finally:
        release_first.set()
        holder.join()
    assert len(first) == 2
    assert len(second) == 2
    assert {job.id for job in first}.isdisjoint(job.id for job in second)


def test_wait_for_jobs_times_out_without_work(store: Store) -> None:
    started = time.monotonic()
    store.wait_for_jobs(0.3)
    assert 0.25 <= time.monotonic() - started < 3


def seconds_until_woken(waiter: Store, enqueuer: Store) -> float:
    """How long ``waiter.wait_for_jobs`` sleeps when ``enqueuer`` enqueues a job 0.3 s in."""
    waiter.wait_for_jobs(0.05)  # PostgreSQL: start listening before the enqueue below

    def enqueue_soon() -> None:
        time.sleep(0.3)
        _enqueue(enqueuer)

    thread = threading.Thread(target=enqueue_soon)
    started = time.monotonic()
    thread.start()
    waiter.wait_for_jobs(20)
    elapsed = time.monotonic() - started
    thread.join()
    return elapsed


def test_wait_for_jobs_wakes_when_jobs_are_enqueued(store: Store) -> None:
    assert 0.2 <= seconds_until_woken(store, store) < 10


def test_next_due_is_the_earliest_unheld_job_or_its_lease_end(store: Store) -> None:
    with store.transaction() as txn:
        assert txn.next_job_due_at() is None
    first = _enqueue(store, run_at_seconds=10)
    _enqueue(store, run_at_seconds=20)
    with store.transaction() as txn:
        assert txn.next_job_due_at() == later(10)
        txn.hold_jobs(first, True)
        assert txn.next_job_due_at() == later(20)
        txn.hold_jobs(first, False)
    [claimed] = _claim(store, "w1", at=10, lease=30, limit=1)
    with store.transaction() as txn:
        assert claimed.instance_uuid == first
        assert txn.next_job_due_at() == later(20)  # the claimed one is back at 40
