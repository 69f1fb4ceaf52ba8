"""A worker stopping with claims in hand, and a worker whose database goes away."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace

from procflow.model.states import InstanceState
from procflow.runtime.worker import Worker, WorkerSettings
from procflow.store.port import Store, StoreTxn
from tests.runtime.conftest import Deployed


def test_a_stopping_worker_hands_back_the_jobs_it_did_not_run(deployed: Deployed) -> None:
    started = [deployed.start("async_chain") for _ in range(3)]
    stopping = Worker(deployed.ctx, WorkerSettings(worker_id="stopping", batch_size=3))
    stopping.stop()
    assert stopping.run_once() == 3  # claimed all three, ran none
    # A 30 s lease is still running, yet the jobs are due again right away.
    other = Worker(deployed.ctx, WorkerSettings(worker_id="other"))
    for _ in range(20):
        if other.run_once() == 0:
            break
    for instance in started:
        assert deployed.load(instance.uuid).state is InstanceState.FINISHED


class _FailingStore:
    """Delegates to ``store`` except that the first ``failures`` transactions raise."""

    def __init__(self, store: Store, failures: int) -> None:
        self._store = store
        self.failures = failures
        self.dialect = store.dialect

    def transaction(self) -> AbstractContextManager[StoreTxn]:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database restarting")
        return self._store.transaction()

    def wait_for_jobs(self, timeout: float) -> None:
        self._store.wait_for_jobs(timeout)


def test_a_worker_outlives_a_database_outage(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    failing = _FailingStore(deployed.ctx.store, failures=2)
    ctx = replace(deployed.ctx, store=failing)  # type: ignore[arg-type]
    worker = Worker(ctx, WorkerSettings(idle_wait_seconds=0.01))
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        for _ in _polls(500):
            if deployed.load(instance.uuid).state is InstanceState.FINISHED:
                break
    finally:
        worker.stop()
        thread.join(5)
    assert deployed.load(instance.uuid).state is InstanceState.FINISHED
    assert not thread.is_alive()
    assert failing.failures == 0  # both failures happened, and the worker carried on


def _polls(count: int) -> Iterator[int]:
    stop = threading.Event()
    for index in range(count):
        yield index
        stop.wait(0.01)
