"""The worker: claims due jobs and applies them, each exactly once.

A job is applied in ONE transaction with its own deletion: the instance is updated (with
its version check) and the job row deleted only if this worker still holds the claim. A
worker killed at any point therefore leaves either nothing (the job's lease expires and
another worker runs it) or everything (instance moved on and job gone) — never both.

Chains of async tasks run without a round trip through the queue: when a job's step asks
for exactly one follow-up job on the same instance, the job row itself becomes the
follow-up, still claimed by this worker, in the same transaction; the worker then runs it
at once, reusing the instance it just saved (the version check catches any other writer).
Every async task still commits on its own, so the durability points are unchanged.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import uuid4

from procflow.engine.events import JobCompleted, JobFailed, StepResult
from procflow.engine.step import step
from procflow.model.errors import ConcurrentModification, ProcflowError
from procflow.model.instance import ProcessInstance
from procflow.runtime import metrics
from procflow.runtime.context import RuntimeContext
from procflow.runtime.persist import save_step
from procflow.store.port import Job, StoreTxn

log = logging.getLogger("procflow.worker")


JobEvent = JobCompleted | JobFailed
# The follow-up job this worker should run next (still claimed by it) and the instance as
# just saved; (None, None) when the chain ends here.
Continuation = tuple[Job | None, ProcessInstance | None]
_DONE: Continuation = (None, None)


def _completed(job: Job) -> JobCompleted:
    return JobCompleted(job.token_uuid, job.node_id)


class _ClaimLost(Exception):
    """The lease expired and another worker took the job; this attempt must not commit."""


@dataclass
class WorkerSettings:
    lease_seconds: float = 30.0
    batch_size: int = 16
    # Upper bound on sleeping between polls; LISTEN/NOTIFY (or an in-process signal) wakes
    # the worker sooner, so this only matters for jobs that become due later.
    idle_wait_seconds: float = 1.0
    max_attempts: int = 5
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
    )


class Worker:
    def __init__(self, ctx: RuntimeContext, settings: WorkerSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or WorkerSettings()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run_forever(self) -> None:
        log.info("worker started", extra={"worker": self.settings.worker_id})
        while not self._stopping.is_set():
            try:
                claimed = self.run_once()
            except Exception:
                # The database is down or restarting: nothing was applied half-way (each job
                # is one transaction), so wait and claim again rather than exit.
                log.exception("worker cycle failed", extra={"worker": self.settings.worker_id})
                self._stopping.wait(self.settings.idle_wait_seconds)
                continue
            if claimed == 0:
                self.ctx.store.wait_for_jobs(self.settings.idle_wait_seconds)

    def run_once(self) -> int:
        """Claim a batch of due jobs and run them; returns how many were claimed."""
        jobs = self._claim()
        for index, job in enumerate(jobs):
            if self._stopping.is_set():
                self._hand_back(jobs[index:])
                break
            self._run_job(job)
        return len(jobs)

    def _claim(self) -> list[Job]:
        now = self.ctx.clock()
        with self.ctx.store.transaction() as txn:
            jobs = txn.claim_jobs(
                self.settings.worker_id, now, self.settings.lease_seconds, self.settings.batch_size
            )
        for job in jobs:
            metrics.JOB_LAG.observe(max(0.0, (now - job.run_at).total_seconds()))
        return jobs

    def _run_job(self, first: Job) -> None:
        job: Job | None = first
        known: ProcessInstance | None = None
        while job is not None:
            current = job
            if self._stopping.is_set():
                self._hand_back([current])
                return
            try:
                job, known = self._apply_retrying(current, _completed(current), known)
            except Exception as error:
                self._failed(current, error)
                return

    def _failed(self, job: Job, error: BaseException) -> None:
        if job.attempts >= self.settings.max_attempts:
            self._give_up(job, error)
        else:
            self._release(job, error)

    def _give_up(self, job: Job, error: BaseException) -> None:
        """Retries exhausted: the instance gets a ``job_failed`` incident and stops, as a
        failing expression would stop it; the job is deleted in the same transaction."""
        message = f"gave up after {job.attempts} attempts: {error!r}"
        try:
            self._apply_retrying(job, JobFailed(job.token_uuid, job.node_id, message), None)
        except Exception as second:
            self._release(job, second)

    def _apply_retrying(
        self, job: Job, event: JobEvent, known: ProcessInstance | None
    ) -> Continuation:
        for _ in range(self.ctx.max_conflict_retries):
            try:
                with self.ctx.store.transaction() as txn:
                    return self._apply(txn, job, event, known)
            except ConcurrentModification:
                metrics.observe_conflict_retry("job")
                known = None  # someone else saved the instance: read it afresh
                continue
            except _ClaimLost:
                log.warning("job claim lost", extra={"job": job.id})
                return _DONE
        raise ConcurrentModification()

    def _apply(
        self, txn: StoreTxn, job: Job, event: JobEvent, known: ProcessInstance | None
    ) -> Continuation:
        instance = known or txn.get_instance(job.instance_uuid, for_update=True)
        if instance is None or instance.state.is_final:
            self._complete(txn, job)  # nothing left to do: the job is obsolete
            return _DONE
        build = self.ctx.catalog.build(txn, instance.build_id)
        definition = self.ctx.catalog.definition_in(build, instance.definition_id)
        now = self.ctx.clock()
        try:
            result = step(definition, instance, event, now)
        except ProcflowError as error:
            if known is not None:
                raise ConcurrentModification() from error  # decide on a fresh read
            log.warning(
                "obsolete job dropped: %s",
                error.message,
                extra={"instance": str(job.instance_uuid), "job": job.id},
            )
            self._complete(txn, job)
            return _DONE
        return self._save(txn, job, instance, result, now)

    def _save(
        self,
        txn: StoreTxn,
        job: Job,
        before: ProcessInstance,
        result: StepResult,
        now: datetime,
    ) -> Continuation:
        follow_up = result.jobs[0] if len(result.jobs) == 1 else None
        saved = save_step(txn, result, now, with_jobs=follow_up is None)
        metrics.observe_transition(before, saved)
        if follow_up is None:
            self._complete(txn, job)
            return _DONE
        next_job = txn.continue_job(
            job, self.settings.worker_id, follow_up, now, self.settings.lease_seconds
        )
        if next_job is None:
            raise _ClaimLost()
        return next_job, saved

    def _complete(self, txn: StoreTxn, job: Job) -> None:
        if not txn.complete_job(job.id, self.settings.worker_id):
            raise _ClaimLost()

    def _hand_back(self, jobs: list[Job]) -> None:
        """A stopping worker returns the claims it will not run, due now: another worker
        takes them at once instead of after the lease runs out."""
        now = self.ctx.clock()
        with self.ctx.store.transaction() as txn:
            for job in jobs:
                txn.release_job(job.id, self.settings.worker_id, now, "worker stopped")

    def _release(self, job: Job, error: BaseException) -> None:
        delay = timedelta(seconds=min(300, 2**job.attempts))
        log.error(
            "job failed: %r",
            error,
            extra={"instance": str(job.instance_uuid), "job": job.id, "attempts": job.attempts},
        )
        with self.ctx.store.transaction() as txn:
            txn.release_job(job.id, self.settings.worker_id, self.ctx.clock() + delay, repr(error))


def start_embedded_worker(ctx: RuntimeContext) -> Worker:
    """A worker thread inside ``serve``, so one process is the whole laptop setup."""
    worker = Worker(ctx)
    thread = threading.Thread(target=worker.run_forever, name="procflow-worker", daemon=True)
    thread.start()
    return worker
