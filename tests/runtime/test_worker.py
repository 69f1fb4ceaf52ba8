"""Async tasks run by the worker, each applied exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from sqlalchemy import event

from procflow.engine.events import JobCompleted
from procflow.engine.step import step as engine_step
from procflow.model.errors import DataTooLarge
from procflow.model.limits import DataLimits
from procflow.model.states import InstanceState, NodeStatus
from procflow.runtime import pipeline as pipeline_module
from procflow.runtime.access import SYSTEM
from procflow.runtime.commands import execute_action, hold, terminate, unhold
from procflow.runtime.worker import Worker, WorkerSettings
from procflow.store.sql import SqlStore
from tests.runtime.conftest import Deployed


def _drain(worker: Worker, rounds: int = 20) -> None:
    for _ in range(rounds):
        if worker.run_once() == 0:
            return


def _audit_types(deployed: Deployed, uuid: UUID) -> list[str]:
    with deployed.ctx.store.transaction() as txn:
        return [r.type for r in txn.list_audit(uuid)]


def test_async_tasks_wait_for_the_worker_then_finish(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    assert instance.state is InstanceState.STARTED
    [token] = instance.tokens
    assert (token.node_id, token.status) == ("t1", NodeStatus.EXECUTING)
    _drain(Worker(deployed.ctx))
    done = deployed.load(instance.uuid)
    assert done.state is InstanceState.FINISHED
    assert done.data == {"s1": 1, "s2": 2, "s3": 3}
    assert _audit_types(deployed, instance.uuid).count("task_executed") == 3


def test_a_worker_that_lost_its_lease_commits_nothing(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    slow = Worker(deployed.ctx, WorkerSettings(lease_seconds=0.0, worker_id="slow"))
    [job] = slow._claim()
    # The lease has already run out: another worker takes the job and applies it.
    fast = Worker(deployed.ctx, WorkerSettings(worker_id="fast"))
    assert fast.run_once() == 1  # one claim; the chain t1 -> t2 -> t3 follows on it
    slow._run_job(job)
    after = deployed.load(instance.uuid)
    assert after.state is InstanceState.FINISHED
    assert after.data == {"s1": 1, "s2": 2, "s3": 3}
    assert _audit_types(deployed, instance.uuid).count("task_executed") == 3


def test_a_chain_of_async_tasks_runs_on_one_claim_committing_each_task(
    deployed: Deployed,
) -> None:
    instance = deployed.start("async_chain")
    store = deployed.ctx.store
    assert isinstance(store, SqlStore)
    commits: list[object] = []
    event.listen(store.engine, "commit", commits.append)
    worker = Worker(deployed.ctx, WorkerSettings(worker_id="w"))
    assert worker.run_once() == 1
    # One claim transaction, then one transaction per task: every task is its own
    # durability point, even though no task went back through the queue.
    assert len(commits) == 1 + 3
    assert worker.run_once() == 0
    done = deployed.load(instance.uuid)
    assert done.state is InstanceState.FINISHED
    assert done.version == 4


def test_a_chain_interrupted_by_a_crash_resumes_after_the_lease(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    crashing = Worker(deployed.ctx, WorkerSettings(worker_id="crashing", lease_seconds=30))
    [job] = crashing._claim()
    # The first task commits and the job row becomes the claimed follow-up; then the
    # worker "dies" before running it.
    follow_up, _ = crashing._apply_retrying(job, JobCompleted(job.wait_id or ""), None)
    assert follow_up is not None and follow_up.node_id == "t2"
    assert deployed.load(instance.uuid).data == {"s1": 1}
    rescuer = Worker(deployed.ctx, WorkerSettings(worker_id="rescuer"))
    assert rescuer.run_once() == 0  # still leased to the dead worker
    later = deployed.ctx.clock
    deployed.ctx.clock = lambda: later() + timedelta(seconds=31)
    assert rescuer.run_once() == 1
    done = deployed.load(instance.uuid)
    assert done.data == {"s1": 1, "s2": 2, "s3": 3}
    assert _audit_types(deployed, instance.uuid).count("task_executed") == 3


def test_failed_job_is_released_for_retry(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    worker = Worker(deployed.ctx, WorkerSettings(worker_id="w"))
    [job] = worker._claim()
    worker._release(job, RuntimeError("database hiccup"))
    assert worker.run_once() == 0  # backed off: not due yet
    later = deployed.ctx.clock
    deployed.ctx.clock = lambda: later() + timedelta(seconds=5)
    _drain(worker)
    assert deployed.load(instance.uuid).state is InstanceState.FINISHED


def test_terminating_an_instance_cancels_its_jobs(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    terminate(deployed.ctx, SYSTEM, instance.uuid, "operator")
    with deployed.ctx.store.transaction() as txn:
        assert txn.list_jobs(instance.uuid) == []
    assert Worker(deployed.ctx).run_once() == 0
    assert deployed.load(instance.uuid).state is InstanceState.TERMINATED


def test_a_job_claimed_before_its_instance_was_terminated_changes_nothing(
    deployed: Deployed,
) -> None:
    instance = deployed.start("async_chain")
    worker = Worker(deployed.ctx)
    [job] = worker._claim()
    terminate(deployed.ctx, SYSTEM, instance.uuid, "operator")
    worker._run_job(job)
    terminated = deployed.load(instance.uuid)
    assert terminated.state is InstanceState.TERMINATED
    assert terminated.data == {}


def test_retries_exhausted_fail_the_instance_with_an_incident(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the task's step keeps crashing (as a bug or a poisoned payload
    would); after max_attempts the worker stops retrying and records why."""
    instance = deployed.start("async_chain")
    real_step = engine_step

    def crashing_step(definition: Any, current: Any, event: Any, now: Any) -> Any:
        if isinstance(event, JobCompleted):
            raise RuntimeError("task crashed")
        return real_step(definition, current, event, now)

    monkeypatch.setattr(pipeline_module, "step", crashing_step)
    worker = Worker(deployed.ctx, WorkerSettings(worker_id="w", max_attempts=2))
    assert worker.run_once() == 1  # attempt 1: released with a back-off
    assert deployed.load(instance.uuid).state is InstanceState.STARTED
    now = deployed.ctx.clock
    deployed.ctx.clock = lambda: now() + timedelta(seconds=5)
    assert worker.run_once() == 1  # attempt 2: the last one
    failed = deployed.load(instance.uuid)
    assert failed.state is InstanceState.FAILED
    [incident] = failed.incidents
    assert (incident.type, incident.node_id) == ("job_failed", "t1")
    assert "gave up after 2 attempts" in incident.message and "task crashed" in incident.message
    assert worker.run_once() == 0
    with deployed.ctx.store.transaction() as txn:
        assert txn.claim_jobs("anyone", now() + timedelta(hours=1), 30, 10) == []


def test_a_task_whose_data_cannot_be_saved_fails_the_instance_at_once(deployed: Deployed) -> None:
    padding = {"pad": "x" * 80}
    size = len(orjson.dumps(padding))
    deployed.ctx.data_limits = DataLimits(max_bytes=size + 4)
    instance = deployed.start("async_chain", padding)
    worker = Worker(deployed.ctx, WorkerSettings(worker_id="w", max_attempts=5))
    assert worker.run_once() == 1
    failed = deployed.load(instance.uuid)
    assert failed.state is InstanceState.FAILED
    [incident] = failed.incidents
    assert (incident.type, incident.node_id) == ("job_failed", "t1")
    assert "data was refused" in incident.message
    assert failed.data == padding


def test_a_step_that_leaves_the_data_as_loaded_does_not_check_it_again(
    deployed: Deployed,
) -> None:
    """The data was checked when it was saved; a hold or a timer does not walk it again,
    so a limit lowered since then refuses only steps that write new data."""
    instance = deployed.start("two_desks", {"pad": "x" * 80})
    deployed.ctx.data_limits = DataLimits(max_bytes=10)
    held = hold(deployed.ctx, SYSTEM, instance.uuid)
    assert held.instance.state is InstanceState.ON_HOLD
    unhold(deployed.ctx, SYSTEM, instance.uuid)
    token = next(t for t in deployed.load(instance.uuid).tokens if t.node_id == "legal")
    with pytest.raises(DataTooLarge):
        execute_action(deployed.ctx, SYSTEM, instance.uuid, token.uuid, "sign", {"by": "me"})
    assert deployed.load(instance.uuid).data == {"pad": "x" * 80}
