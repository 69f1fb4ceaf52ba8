"""The storage port the runtime talks to.

A ``Store`` opens transactions; everything read or written inside one ``StoreTxn`` commits
or rolls back together. Implementations: ``store.sqlite.SqliteStore`` (embedded default)
and ``store.postgres.PostgresStore``, both thin dialect subclasses of ``store.sql.SqlStore``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from procflow.engine.events import AuditEvent, EnqueueJob
from procflow.model.build import App, Build, DefinitionSource, Workspace
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState


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


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    instance_uuid: UUID
    token_uuid: UUID
    node_id: str
    attempts: int
    run_at: datetime
    locked_until: datetime | None = None


@dataclass(frozen=True)
class InstanceQuery:
    """Search filters; all optional. ``after`` is the cursor (the last seen numeric id)."""

    workspace_id: UUID
    definition_name: str | None = None
    states: tuple[InstanceState, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    lineage_root_uuid: UUID | None = None
    after: int | None = None
    limit: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


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

    # instances
    def insert_instance(self, instance: ProcessInstance) -> ProcessInstance:
        """Insert a new instance; returns it with ``id`` assigned and ``version`` 1."""
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
    def search_instances(self, query: InstanceQuery) -> list[ProcessInstance]: ...
    def lineage_members(self, lineage_root_uuid: UUID) -> list[ProcessInstance]:
        """Every instance whose lineage root is ``lineage_root_uuid``, plus the root itself."""
        ...

    # audit log (append-only)
    def append_audit(
        self, instance_uuid: UUID, events: Sequence[AuditEvent], at: datetime
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

    # jobs (async tasks, timers later)
    def enqueue_jobs(
        self, instance_uuid: UUID, jobs: Sequence[EnqueueJob], run_at: datetime
    ) -> None: ...
    def claim_jobs(
        self, worker_id: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[Job]: ...
    def complete_job(self, job_id: int, worker_id: str) -> bool: ...
    def continue_job(
        self, job: Job, worker_id: str, follow_up: EnqueueJob, now: datetime, lease_seconds: float
    ) -> Job | None:
        """Turn a finished job, still claimed by ``worker_id``, into its follow-up on the
        same instance, claimed by the same worker: one UPDATE instead of a DELETE, an INSERT
        and a later claim. None when the claim was lost (another worker took the job)."""
        ...

    def release_job(self, job_id: int, worker_id: str, retry_at: datetime, error: str) -> None: ...

    # --- gauges (read-only aggregates for /metrics)
    def count_live_instances(self) -> list[LiveInstanceCount]: ...
    def job_queue_stats(self, now: datetime) -> list[JobQueueStat]: ...


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
