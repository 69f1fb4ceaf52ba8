"""The worker: claims due jobs and applies them, each exactly once.

A job is applied in ONE transaction with its own deletion: the instance is updated (with
its version check) and the job row deleted only if this worker still holds the claim. A
worker killed at any point therefore leaves either nothing (the job's lease expires and
another worker runs it) or everything (instance moved on and job gone) — never both.

Jobs are dispatched by kind through ``JOB_KINDS``: an ``InstanceJob`` says which engine
event a due job of an instance becomes (async task done, timer fired); an ``OwnJob`` runs by
itself (a timer start, which creates an instance).

Chains of async tasks run without a round trip through the queue: when a job's step asks
for a follow-up task due now on the same instance, the job row itself becomes the
follow-up, still claimed by this worker, in the same transaction; the worker then runs it
at once, reusing the instance it just saved (the version check catches any other writer).
Every async task still commits on its own, so the durability points are unchanged; the
commits inside a chain do not wait for the disk, the chain's last one does (and so flushes
them: the WAL is written in order), which is one disk wait per chain rather than per task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import uuid4

from procflow.engine.events import Event, JobCompleted, JobFailed, TimerFired
from procflow.model.errors import (
    ConcurrentModification,
    DataInvalid,
    DataTooLarge,
    ProcflowError,
)
from procflow.model.instance import ProcessInstance, WaitKind
from procflow.model.states import RUNNING_INSTANCE_STATES
from procflow.runtime import (
    batch_runner,
    batches,
    child_jobs,
    children,
    metrics,
    timer_starts,
)
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import apply_step, run_command
from procflow.store.port import Job, JobClaimLost, NewJob, StoreTxn

log = logging.getLogger("procflow.worker")

# The follow-up job this worker should run next (still claimed by it) and the instance as
# just saved; (None, None) when the chain ends here.
Continuation = tuple[Job | None, ProcessInstance | None]
_DONE: Continuation = (None, None)


@dataclass(frozen=True)
class InstanceJob:
    """A job that fires one of its instance's waits: ``event`` is what the engine is told."""

    event: Callable[[Job], Event]


@dataclass(frozen=True)
class OwnJob:
    """A job that is not an instance's wait. ``run`` does its work in the job's transaction
    (the job is deleted in it); ``give_up`` when it kept failing."""

    run: Callable[[RuntimeContext, StoreTxn, Job, datetime], object]
    give_up: Callable[[StoreTxn, Job, datetime], None]


JOB_KINDS: dict[str, InstanceJob | OwnJob] = {
    WaitKind.TASK.value: InstanceJob(lambda job: JobCompleted(_wait_id(job))),
    WaitKind.TIMER.value: InstanceJob(lambda job: TimerFired(_wait_id(job))),
    WaitKind.EXPIRY.value: InstanceJob(lambda job: TimerFired(_wait_id(job))),
    timer_starts.TIMER_START: OwnJob(timer_starts.fire, timer_starts.skip),
    batches.BATCH_JOB: OwnJob(batch_runner.run_slice, batch_runner.give_up_slice),
    # Call activities (runtime/children.py).
    child_jobs.CALL_START: OwnJob(children.start_child, children.give_up_start),
    children.CALL_REFUSED: InstanceJob(children.call_refused_event),
    child_jobs.CHILD_ENDED: InstanceJob(children.child_ended_event),
    child_jobs.CASCADE: OwnJob(children.run_cascade, children.skip_cascade),
}


def _wait_id(job: Job) -> str:
    if job.wait_id is None:
        raise ValueError(f"job {job.id} of kind {job.kind} names no wait")
    return job.wait_id


# Never spin: a job that is due but could not be claimed is retried after this long.
MIN_IDLE_WAIT_SECONDS = 0.01


class _DataRefused(Exception):
    """The step's data cannot be saved (too big, or not storable): running it again would
    give the same answer, so the instance fails with an incident at once."""


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


class _ContinueInto:
    """Lets the pipeline turn the running job's row into the step's follow-up task."""

    def __init__(self, worker: Worker, txn: StoreTxn, job: Job, now: datetime) -> None:
        self.worker, self.txn, self.job, self.now = worker, txn, job, now
        self.next_job: Job | None = None

    def take(self, new: NewJob) -> bool:
        due_now_task = new.kind == WaitKind.TASK.value and new.run_at <= self.now
        if self.next_job is not None or not due_now_task:
            return False
        settings = self.worker.settings
        self.next_job = self.txn.continue_job(
            self.job, settings.worker_id, new, self.now, settings.lease_seconds
        )
        return True


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
                if self.run_once() == 0:
                    self.ctx.store.wait_for_jobs(self._idle_wait())
            except Exception:
                # The database is down or restarting: nothing was applied half-way (each job
                # is one transaction), so wait and claim again rather than exit.
                log.exception("worker cycle failed", extra={"worker": self.settings.worker_id})
                self._stopping.wait(self.settings.idle_wait_seconds)

    def _idle_wait(self) -> float:
        """Until the next job is due (a timer fires on time, not at the next poll), at most
        ``idle_wait_seconds``; a job enqueued meanwhile wakes the worker sooner."""
        with self.ctx.store.read_transaction() as txn:
            due = txn.next_job_due_at()
        if due is None:
            return self.settings.idle_wait_seconds
        until_due = (due - self.ctx.clock()).total_seconds()
        return min(self.settings.idle_wait_seconds, max(MIN_IDLE_WAIT_SECONDS, until_due))

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
        match JOB_KINDS.get(first.kind):
            case InstanceJob():
                self._run_instance_jobs(first)
            case OwnJob() as kind:
                self._run_own_job(first, kind)
            case None:
                self._failed(first, ValueError(f"unknown job kind {first.kind!r}"))

    def _run_instance_jobs(self, first: Job) -> None:
        """The job, then the follow-ups it was continued into (each of its own kind)."""
        job: Job | None = first
        known: ProcessInstance | None = None
        while job is not None:
            current = job
            kind = JOB_KINDS.get(current.kind)
            if self._stopping.is_set() or not isinstance(kind, InstanceJob):
                self._hand_back([current])
                return
            try:
                job, known = self._apply_retrying(current, kind.event(current), known)
            except _DataRefused as refused:
                self._give_up(current, f"the step's data was refused: {refused}")
                return
            except Exception as error:
                self._failed(current, error)
                return

    def _run_own_job(self, job: Job, kind: OwnJob) -> None:
        def attempt(txn: StoreTxn, now: datetime) -> None:
            kind.run(self.ctx, txn, job, now)
            self._complete(txn, job)

        try:
            run_command(self.ctx, attempt, command="job")
        except JobClaimLost:
            log.warning("job claim lost", extra={"job": job.id})
        except Exception as error:
            self._failed(job, error)

    def _failed(self, job: Job, error: BaseException) -> None:
        if job.attempts >= self.settings.max_attempts:
            self._give_up(job, f"gave up after {job.attempts} attempts: {error!r}")
        else:
            self._release(job, error)

    def _give_up(self, job: Job, message: str) -> None:
        """An instance's job puts a ``job_failed`` incident on it and stops it, as a
        failing expression would; the job is deleted in the same transaction."""
        kind = JOB_KINDS.get(job.kind)
        try:
            if isinstance(kind, OwnJob):
                run_command(
                    self.ctx, lambda txn, now: self._skip(txn, job, now, kind), command="job"
                )
            elif job.wait_id is not None:
                self._apply_retrying(job, JobFailed(job.wait_id, message), None)
            else:
                run_command(self.ctx, lambda txn, _now: self._complete(txn, job), command="job")
        except Exception as second:
            self._release(job, second)

    def _skip(self, txn: StoreTxn, job: Job, now: datetime, kind: OwnJob) -> None:
        kind.give_up(txn, job, now)
        self._complete(txn, job)

    def _apply_retrying(
        self, job: Job, event: Event, known: ProcessInstance | None
    ) -> Continuation:
        state = {"known": known}

        def attempt(txn: StoreTxn, now: datetime) -> Continuation:
            # Only the first attempt may trust the instance this worker saved last: one
            # that runs again lost a version check (in its body or at its commit), so
            # someone else saved the instance since, and it is read afresh.
            reused, state["known"] = state["known"], None
            return self._apply(txn, job, event, reused, now)

        try:
            return run_command(self.ctx, attempt, command="job")
        except JobClaimLost:
            log.warning("job claim lost", extra={"job": job.id})
            return _DONE

    def _apply(
        self,
        txn: StoreTxn,
        job: Job,
        event: Event,
        known: ProcessInstance | None,
        now: datetime,
    ) -> Continuation:
        instance = known
        if instance is None and job.instance_uuid is not None:
            instance = txn.get_instance(job.instance_uuid, for_update=True)
        # The instance's update and the job's completion go out with the COMMIT.
        txn.defer_checked_writes()
        if instance is None or instance.state.is_final:
            self._complete(txn, job)  # nothing left to do: the job is obsolete
            return _DONE
        if instance.state not in RUNNING_INSTANCE_STATES:
            # On hold, or failed awaiting a retry: keep the job, held, for when it runs again.
            if not txn.park_job(job.id, self.settings.worker_id):
                raise JobClaimLost()
            return _DONE
        reuse = _ContinueInto(self, txn, job, now)
        try:
            applied = apply_step(self.ctx, txn, instance, event, now, reuse=reuse)
        except (DataInvalid, DataTooLarge) as error:
            raise _DataRefused(error.message) from error
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
        if reuse.next_job is None:
            self._complete(txn, job)
            return _DONE
        # This worker commits the follow-up next, waiting for the disk as every chain's last
        # job does, which makes this commit durable too; if the database crashes first, both
        # are undone and the job, still queued, runs again.
        txn.commit_lazily()
        return reuse.next_job, applied.instance

    def _complete(self, txn: StoreTxn, job: Job) -> None:
        txn.complete_job(job.id, self.settings.worker_id)

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


def start_embedded_worker(ctx: RuntimeContext, settings: WorkerSettings | None = None) -> Worker:
    """A worker thread inside ``serve``, so one process is the whole laptop setup."""
    worker = Worker(ctx, settings)
    thread = threading.Thread(target=worker.run_forever, name="procflow-worker", daemon=True)
    thread.start()
    return worker
