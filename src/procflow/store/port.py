"""The storage port the runtime talks to.

A ``Store`` opens transactions; everything read or written inside one ``StoreTxn`` commits
or rolls back together. Implementations: ``store.sqlite.SqliteStore`` (embedded default)
and ``store.postgres.PostgresStore``, both thin dialect subclasses of ``store.sql.SqlStore``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from procflow.model.build import App, Build, DefinitionSource, Workspace
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState


@dataclass(frozen=True)
class NewAuditEvent:
    """An audit event to append; the store gives it its sequence number and time."""

    type: str
    node_id: str | None = None
    token_uuid: UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewJob:
    """Work for the worker, due at ``run_at``.

    ``key`` is unique among pending jobs: enqueuing a job whose key is already queued does
    nothing, which makes scheduling idempotent (one job per instance wait, one per timer
    start occurrence). A job that belongs to an instance names it and the wait it fires.
    """

    kind: str
    run_at: datetime
    key: str | None = None
    instance_uuid: UUID | None = None
    wait_id: str | None = None
    token_uuid: UUID | None = None
    node_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    instance_uuid: UUID
    type: str
    node_id: str | None
    token_uuid: UUID | None
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class AuditSummary:
    # Event type -> how many, in the order the types first appeared.
    by_type: dict[str, int]
    last_at: datetime | None

    @property
    def events(self) -> int:
        return sum(self.by_type.values())


@dataclass(frozen=True)
class IdempotencyRecord:
    workspace_id: UUID
    key: str
    request_hash: str
    instance_uuid: UUID


class JobClaimLost(Exception):
    """The job's lease ran out and another worker took it: this transaction must not
    commit (raised by a job's completion, or by the commit that carries it)."""


@dataclass(frozen=True)
class Job:
    """A claimed job (see ``NewJob``); ``attempts`` counts claims, this one included."""

    id: int
    kind: str
    attempts: int
    run_at: datetime
    instance_uuid: UUID | None = None
    wait_id: str | None = None
    token_uuid: UUID | None = None
    node_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class NewExternalTask:
    """An instance's external-task wait, made fetchable by workers of ``topic``."""

    id: UUID
    instance_uuid: UUID
    wait_id: str
    token_uuid: UUID
    node_id: str
    topic: str
    retries: int


@dataclass(frozen=True)
class ExternalTask:
    """An external task as stored, with what workers are told of its instance."""

    id: UUID
    instance_uuid: UUID
    wait_id: str
    token_uuid: UUID
    node_id: str
    topic: str
    retries: int
    available_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    error_message: str | None
    error_details: str | None
    workspace_id: UUID
    definition_name: str
    data: dict[str, Any] = field(default_factory=dict)
    # The instance's saved document, read for the token's own variables (a multi-instance
    # element), which the worker is given beside the data.
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class TaskFailure:
    """A worker's failure of a task that still has ``retries``: fetchable at ``available_at``."""

    retries: int
    available_at: datetime
    error_message: str
    error_details: str | None = None


@dataclass(frozen=True)
class NewSubscription:
    instance_uuid: UUID
    wait_id: str
    token_uuid: UUID
    node_id: str
    message_name: str
    correlation_key: str | None


@dataclass(frozen=True)
class Subscription:
    id: int
    instance_uuid: UUID
    wait_id: str
    token_uuid: UUID
    node_id: str
    message_name: str
    correlation_key: str | None


@dataclass(frozen=True)
class BufferedMessage:
    """A message nobody waited for, kept until ``expires_at`` for the first subscription
    that matches it."""

    workspace_id: UUID
    message_name: str
    correlation_key: str | None
    data: dict[str, Any]
    message_id: str | None
    expires_at: datetime


@dataclass(frozen=True)
class InstanceQuery:
    """Search filters; all optional. ``after`` is the cursor (the last seen numeric id)."""

    workspace_id: UUID
    definition_name: str | None = None
    states: tuple[InstanceState, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    lineage_root_uuid: UUID | None = None
    # Call trees: the children of ``parent_uuid``; every descendant of ``root_uuid``.
    parent_uuid: UUID | None = None
    root_uuid: UUID | None = None
    after: int | None = None
    limit: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildSummary:
    """A child instance started by one of its parent's call activities."""

    uuid: UUID
    name: str
    state: str


@dataclass(frozen=True)
class LiveInstanceCount:
    process: str
    state: str
    count: int


@dataclass(frozen=True)
class JobQueueStat:
    kind: str
    queued: int
    oldest_due_at: datetime | None


@dataclass(frozen=True)
class BatchRecord:
    """A batch: one operation applied to many instances by the worker, slice by slice."""

    id: UUID
    workspace_id: UUID
    operation: str
    state: str
    spec: dict[str, Any]
    total: int
    done: int
    failed: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True)
class BatchItem:
    batch_id: UUID
    seq: int
    source_uuid: UUID
    state: str
    result_uuid: UUID | None = None
    error: dict[str, Any] | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class BuildSummary:
    """A build without its definition texts: what a list of builds shows."""

    id: UUID
    workspace_id: UUID
    app_id: UUID
    checksum: str
    status: str
    created_at: datetime


class StoreTxn(Protocol):
    # workspaces and apps
    def insert_workspace(self, workspace: Workspace) -> None: ...
    def get_workspace(self, workspace_id: UUID) -> Workspace | None: ...
    def insert_app(self, app: App) -> None: ...
    def get_app(self, app_id: UUID) -> App | None: ...

    # builds and definitions
    def insert_build(self, build: Build) -> None: ...
    def get_build(self, build_id: UUID) -> Build | None: ...
    def set_active_build(self, workspace_id: UUID, app_id: UUID, build_id: UUID) -> None: ...
    def get_active_build_id(self, workspace_id: UUID, app_id: UUID) -> UUID | None: ...
    def get_definition_source(self, definition_id: UUID) -> DefinitionSource | None: ...
    def list_workspaces(self) -> list[Workspace]: ...
    def list_apps(self, workspace_id: UUID) -> list[App]: ...
    def list_builds(self, app_id: UUID) -> list[BuildSummary]:
        """The app's builds, newest first."""
        ...

    def find_build_by_checksum(self, app_id: UUID, checksum: str) -> UUID | None: ...

    # instances
    def insert_instance(
        self, instance: ProcessInstance, *, while_active: bool = False
    ) -> ProcessInstance:
        """Insert a new instance; returns it with ``id`` assigned and ``version`` 1.

        ``while_active``: only if its build is still the active build of its app, else
        nothing is written and ``ActiveBuildChanged`` is raised.
        """
        ...

    def update_instance(self, instance: ProcessInstance) -> ProcessInstance:
        """Save ``instance`` if the stored version still equals ``instance.version``.

        Returns the instance with ``version + 1``; raises ``ConcurrentModification`` when
        another transaction saved first. Only instances in a running state may be updated.
        """
        ...

    def get_instance(
        self, instance_uuid: UUID, *, for_update: bool = False
    ) -> ProcessInstance | None: ...
    def lock_answerable_external_task(
        self, task_id: UUID
    ) -> tuple[ProcessInstance, ExternalTask] | None:
        """The task and the instance it belongs to, both locked for update, the instance
        first (None: no such task)."""
        ...

    def search_instances(self, query: InstanceQuery) -> list[ProcessInstance]: ...
    def search_instance_uuids(self, query: InstanceQuery) -> list[tuple[int, UUID]]:
        """(id, uuid) of the instances ``query`` matches: a batch's items, without loading
        every document."""
        ...

    def count_instances(self, query: InstanceQuery) -> int:
        """How many instances ``query`` matches, ignoring its cursor and limit."""
        ...

    def children_of(self, parent_uuid: UUID) -> list[ChildSummary]:
        """The instances ``parent_uuid``'s call activities started, oldest first."""
        ...

    def lineage_members(self, lineage_root_uuid: UUID) -> list[ProcessInstance]:
        """Every instance whose lineage root is ``lineage_root_uuid``, plus the root itself."""
        ...

    # audit log (append-only)
    def append_audit(
        self, instance_uuid: UUID, events: Sequence[NewAuditEvent], at: datetime
    ) -> None: ...
    def list_audit(self, instance_uuid: UUID) -> list[AuditRecord]: ...
    def summarize_audit(self, instance_uuid: UUID) -> AuditSummary:
        """Counts by event type and the last event's time, computed by the database."""
        ...

    # idempotency keys
    def get_idempotency(self, workspace_id: UUID, key: str) -> IdempotencyRecord | None: ...
    def insert_idempotency(self, record: IdempotencyRecord) -> bool:
        """False when the key already exists (a racing request won); never raises for that."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction has committed (and, on SQLite, released
        the write lock); never if it rolls back, or if the savepoint it was added in does.
        For what must not claim work that did not happen, or hold up the next writer:
        log lines and metrics. A callback that raises is logged; the commit stands."""
        ...

    def commit_lazily(self) -> None:
        """This transaction's commit need not wait for the disk: what it writes is made
        durable by the next commit that does wait (on PostgreSQL the WAL is flushed in
        order), and a database crash before that rolls it back whole. Only for work that a
        crash may undo: a lease, or a step its still-claimed job would run again."""
        ...

    # jobs: async tasks, timers, timer starts
    def enqueue_jobs(self, jobs: Sequence[NewJob]) -> None:
        """Queue the jobs; one whose ``key`` is already queued is skipped, never an error."""
        ...

    def cancel_jobs(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        """Delete the instance's jobs for these waits (claimed or not); how many went."""
        ...

    def cancel_jobs_with_key_prefix(self, prefix: str) -> int:
        """Delete every job whose key starts with ``prefix`` (e.g. an app's timer starts)."""
        ...

    def hold_jobs(self, instance_uuid: UUID, held: bool) -> None:
        """Held jobs are never claimed: an instance on hold (or failed) keeps its timers
        pending, and they fire once it runs again (due ones at once)."""
        ...

    def list_jobs(self, instance_uuid: UUID) -> list[Job]:
        """The instance's pending jobs, due first (for status answers and tests)."""
        ...

    def claim_jobs(
        self, worker_id: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[Job]: ...
    def next_job_due_at(self) -> datetime | None:
        """When the earliest job that is not held is due (claimed ones included), if any:
        an idle worker sleeps until then rather than polling."""
        ...

    def complete_job(self, job_id: int, worker_id: str) -> None:
        """Delete the job ``worker_id`` still claims; ``JobClaimLost`` when it does not."""
        ...

    def continue_job(
        self, job: Job, worker_id: str, follow_up: NewJob, now: datetime, lease_seconds: float
    ) -> Job:
        """Turn a finished job, still claimed by ``worker_id``, into its follow-up (due now,
        on the same instance), claimed by the same worker: one UPDATE instead of a DELETE,
        an INSERT and a later claim. ``JobClaimLost`` when another worker took it."""
        ...

    def defer_checked_writes(self) -> None:
        """From now on, the writes that must change exactly one row (an instance's version
        check, a job's claim) may wait for the commit and travel with it: on PostgreSQL one
        round trip carries them, the audit rows and the COMMIT. A refused check is then
        raised by the commit (``ConcurrentModification``, ``JobClaimLost``), and nothing is
        committed; any other statement of the transaction runs the waiting writes first."""
        ...

    def release_job(self, job_id: int, worker_id: str, retry_at: datetime, error: str) -> None: ...
    def park_job(self, job_id: int, worker_id: str) -> bool:
        """Give back a claimed job without counting the attempt, held until its instance
        runs again (``hold_jobs(..., False)``). False when the claim was lost."""
        ...

    # external tasks (a worker fetches, locks and answers them)
    def open_external_tasks(self, tasks: Sequence[NewExternalTask], now: datetime) -> None: ...
    def cancel_external_tasks(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int: ...
    def retry_external_task(self, instance_uuid: UUID, wait_id: str, retries: int) -> None:
        """Unlocked and fetchable again with ``retries`` (an incident was retried)."""
        ...

    def lock_external_tasks(
        self,
        worker_id: str,
        topic: str,
        now: datetime,
        locked_until: datetime,
        limit: int,
        workspace_ids: Sequence[UUID] | None,
    ) -> list[ExternalTask]:
        """Lock up to ``limit`` fetchable tasks of ``topic`` (unlocked or lock expired, due,
        retries left, instance STARTED, in ``workspace_ids`` unless None) for ``worker_id``;
        on PostgreSQL rows locked by a concurrent fetch are skipped, never waited for."""
        ...

    def get_external_task(
        self, task_id: UUID, *, for_update: bool = False
    ) -> ExternalTask | None: ...

    def set_external_task_lock(
        self, task_id: UUID, worker_id: str | None, locked_until: datetime | None
    ) -> None: ...
    def record_external_task_failure(self, task_id: UUID, failure: TaskFailure) -> None: ...
    def list_external_tasks(self, instance_uuid: UUID) -> list[ExternalTask]: ...

    # messages
    def open_subscriptions(
        self, subscriptions: Sequence[NewSubscription], now: datetime
    ) -> None: ...

    def cancel_subscriptions(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int: ...
    def matching_subscriptions(
        self,
        workspace_id: UUID,
        message_name: str,
        correlation_key: str | None,
        limit: int | None,
        *,
        for_update: bool = False,
    ) -> list[Subscription]:
        """Subscriptions of STARTED instances of the workspace for this name and key
        (None matches only subscriptions without a key), oldest first."""
        ...

    def get_subscription(
        self, instance_uuid: UUID, wait_id: str, *, for_update: bool = False
    ) -> Subscription | None: ...
    def buffer_message(self, message: BufferedMessage, now: datetime) -> None: ...
    def take_buffered_message(
        self, workspace_id: UUID, message_name: str, correlation_key: str | None, now: datetime
    ) -> BufferedMessage | None:
        """The oldest unexpired buffered message for this name and key, deleted (skipping
        one a concurrent transaction is taking)."""
        ...

    def get_message_result(
        self, workspace_id: UUID, message_id: str, now: datetime
    ) -> dict[str, Any] | None: ...
    def put_message_result(
        self,
        workspace_id: UUID,
        message_id: str,
        result: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        """False when a concurrent request recorded this messageId first."""
        ...

    def workspace_active_builds(self, workspace_id: UUID) -> list[UUID]: ...

    # --- gauges (read-only aggregates for /metrics)
    def count_live_instances(self) -> list[LiveInstanceCount]: ...
    def job_queue_stats(self, now: datetime) -> list[JobQueueStat]: ...

    # savepoints: one part of a transaction that can fail alone
    def savepoint(self) -> AbstractContextManager[None]:
        """Roll back only what ran inside when it raises (the exception propagates)."""
        ...

    # batches
    def insert_batch(self, batch: BatchRecord, sources: Sequence[UUID]) -> None:
        """The batch and one PENDING item per source, numbered from 1 in order."""
        ...

    def get_batch(self, batch_id: UUID, *, for_update: bool = False) -> BatchRecord | None: ...
    def list_batch_items(
        self, batch_id: UUID, after: int, limit: int, state: str | None = None
    ) -> list[BatchItem]: ...
    def finish_batch_item(self, item: BatchItem) -> bool:
        """Record a PENDING item's outcome; False when it was not pending any more."""
        ...

    def save_batch_progress(self, batch: BatchRecord) -> None:
        """Write the batch's state, counters and times."""
        ...

    def claim_batch_items(self, batch_id: UUID, limit: int) -> list[BatchItem]:
        """The first ``limit`` PENDING items no other transaction holds, locked until this
        one ends (so that concurrent slices of one batch take different items)."""
        ...

    def has_pending_items(self, batch_id: UUID) -> bool:
        """Whether any item is PENDING (including items another slice holds)."""
        ...

    def finish_batch_items(self, items: Sequence[BatchItem]) -> int:
        """``finish_batch_item`` for many items in one statement; how many were pending."""
        ...

    def add_batch_progress(self, batch_id: UUID, done: int, failed: int, at: datetime) -> bool:
        """Add to a RUNNING batch's counters in place; False when it is not running."""
        ...

    def complete_batch(self, batch_id: UUID, at: datetime) -> bool:
        """Mark a RUNNING batch COMPLETED; False when it was not running."""
        ...

    def get_instances(self, uuids: Sequence[UUID]) -> list[ProcessInstance]:
        """The instances among ``uuids`` that exist, in one read (in no particular order)."""
        ...

    def insert_started(
        self,
        instances: Sequence[ProcessInstance],
        audit: Sequence[tuple[UUID, NewAuditEvent, datetime]],
        keys: Sequence[IdempotencyRecord],
    ) -> bool:
        """New instances (version 1), their audit events and idempotency keys, one statement
        per table. False when one of ``keys`` is taken already: the other keys may have been
        written, so the caller rolls back (a savepoint) and starts these one by one."""
        ...


class Store(Protocol):
    dialect: str

    def transaction(self) -> AbstractContextManager[StoreTxn]:
        """A read-write transaction: commit on normal exit, roll back on exception."""
        ...

    def read_transaction(self) -> AbstractContextManager[StoreTxn]:
        """A transaction for reads only (status, data, search): on SQLite it does not queue
        behind writers for the write lock. Use ``transaction()`` for anything that writes."""
        ...

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...

    def wait_for_jobs(self, timeout: float) -> None:
        """Block until jobs may be due (LISTEN/NOTIFY on PostgreSQL) or ``timeout`` passes."""
        ...

    def on_external_tasks(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread) whenever external tasks may have become
        fetchable: after a commit of this process, and on PostgreSQL of any replica."""
        ...
