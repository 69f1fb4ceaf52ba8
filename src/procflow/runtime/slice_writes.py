"""A slice's copies started together: the transaction as ``start_in`` sees it while a batch
slice collects the writes of many starts, to write them with one statement per table.

``start_in`` runs unchanged against ``SliceWrites.txn``. The reads a copy makes are answered
from what the slice read once (its sources in one SELECT, each app's active build once);
the writes a start makes (the instance, its audit events, its idempotency key, its jobs and
external tasks, what it announces after the commit) are collected; anything else raises
``NotCollectable`` before it reaches the database, and that item is started on the real
transaction instead. Nothing is written
before ``flush``, so forgetting a failed item's collected writes (``drop_to``) is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from procflow.model.build import App, Build, Workspace
from procflow.model.errors import ActiveBuildChanged
from procflow.model.instance import ProcessInstance
from procflow.store.port import (
    IdempotencyRecord,
    NewAuditEvent,
    NewExternalTask,
    NewJob,
    StoreTxn,
)


class NotCollectable(Exception):
    """The start asked the store for something a slice does not collect."""


@dataclass(frozen=True)
class Mark:
    """How much was collected before an item: what ``drop_to`` goes back to."""

    instances: int
    audit: int
    keys: int
    jobs: int
    tasks: int
    announcements: int


class SliceWrites:
    def __init__(self, txn: StoreTxn, sources: Sequence[UUID], now: datetime) -> None:
        self._real = txn
        self._now = now
        # Every source of the slice in one read; a uuid asked for but absent does not exist.
        self._sources: dict[UUID, ProcessInstance | None] = dict.fromkeys(sources)
        self._sources.update({found.uuid: found for found in txn.get_instances(sources)})
        self._active: dict[tuple[UUID, UUID], UUID | None] = {}
        self.instances: list[ProcessInstance] = []
        self.audit: list[tuple[UUID, NewAuditEvent, datetime]] = []
        self.keys: list[IdempotencyRecord] = []
        self.jobs: list[NewJob] = []
        self.tasks: list[NewExternalTask] = []
        # What the starts announce once committed (log lines, metrics): theirs to keep.
        self.announcements: list[Callable[[], None]] = []

    @property
    def txn(self) -> StoreTxn:
        return cast(StoreTxn, _Collecting(self))

    def mark(self) -> Mark:
        return Mark(len(self.instances), len(self.audit), len(self.keys), len(self.jobs),
                    len(self.tasks), len(self.announcements))  # fmt: skip

    def drop_to(self, mark: Mark) -> None:
        del self.instances[mark.instances :]
        del self.audit[mark.audit :]
        del self.keys[mark.keys :]
        del self.jobs[mark.jobs :]
        del self.tasks[mark.tasks :]
        del self.announcements[mark.announcements :]

    def flush(self) -> bool:
        """Write everything collected; False when an idempotency key was taken already
        (some rows may be written: the caller rolls back to its savepoint)."""
        if not self._real.insert_started(self.instances, self.audit, self.keys):
            return False
        self._real.enqueue_jobs(self.jobs)
        self._real.open_external_tasks(self.tasks, self._now)
        for announcement in self.announcements:
            self._real.after_commit(announcement)
        return True

    def source(self, uuid: UUID) -> ProcessInstance | None:
        if uuid not in self._sources:
            raise NotCollectable("get_instance")
        return self._sources[uuid]

    def active_build_id(self, workspace_id: UUID, app_id: UUID) -> UUID | None:
        key = (workspace_id, app_id)
        if key not in self._active:
            self._active[key] = self._real.get_active_build_id(workspace_id, app_id)
        return self._active[key]

    @property
    def real(self) -> StoreTxn:
        return self._real


class _Collecting:
    """The ``StoreTxn`` methods a copy's start calls; any other one is not collectable."""

    def __init__(self, writes: SliceWrites) -> None:
        self._writes = writes

    def __getattr__(self, name: str) -> Any:
        raise NotCollectable(name)

    # reads: builds and definitions never change, the rest were read once for the slice
    def get_workspace(self, workspace_id: UUID) -> Workspace | None:
        return self._writes.real.get_workspace(workspace_id)

    def get_app(self, app_id: UUID) -> App | None:
        return self._writes.real.get_app(app_id)

    def get_build(self, build_id: UUID) -> Build | None:
        return self._writes.real.get_build(build_id)

    def get_active_build_id(self, workspace_id: UUID, app_id: UUID) -> UUID | None:
        return self._writes.active_build_id(workspace_id, app_id)

    def get_instance(
        self, instance_uuid: UUID, *, for_update: bool = False
    ) -> ProcessInstance | None:
        if for_update:
            raise NotCollectable("get_instance for update")
        return self._writes.source(instance_uuid)

    def get_idempotency(self, workspace_id: UUID, key: str) -> IdempotencyRecord | None:
        # A slice's item keys are new unless an earlier run applied the item: ``flush``
        # finds out (the key is taken) and the slice then starts its items one by one.
        return None

    # writes
    def insert_instance(
        self, instance: ProcessInstance, *, while_active: bool = False
    ) -> ProcessInstance:
        # A start on a cached active build: the check the store's insert would make, against
        # the active build this slice's transaction read.
        if while_active:
            active = self._writes.active_build_id(instance.workspace_id, instance.app_id)
            if active != instance.build_id:
                raise ActiveBuildChanged(buildId=str(instance.build_id))
        self._writes.instances.append(instance)
        return replace(instance, version=1)

    def append_audit(
        self, instance_uuid: UUID, events: Sequence[NewAuditEvent], at: datetime
    ) -> None:
        self._writes.audit.extend((instance_uuid, event, at) for event in events)

    def insert_idempotency(self, record: IdempotencyRecord) -> bool:
        self._writes.keys.append(record)
        return True

    def enqueue_jobs(self, jobs: Sequence[NewJob]) -> None:
        self._writes.jobs.extend(jobs)

    def open_external_tasks(self, tasks: Sequence[NewExternalTask], now: datetime) -> None:
        self._writes.tasks.extend(tasks)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._writes.announcements.append(callback)

    def hold_jobs(self, instance_uuid: UUID, held: bool) -> None:
        # A copy that failed at once (an incident) holds its waits: with no job collected
        # for it there is no row to hold. Anything else is for the real transaction.
        if not held or any(job.instance_uuid == instance_uuid for job in self._writes.jobs):
            raise NotCollectable("hold_jobs")

    # A new instance has nothing to cancel or subscribe: carry_out asks with empty lists.
    def cancel_jobs(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        return _nothing("cancel_jobs", wait_ids)

    def cancel_external_tasks(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        return _nothing("cancel_external_tasks", wait_ids)

    def cancel_subscriptions(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        return _nothing("cancel_subscriptions", wait_ids)

    def open_subscriptions(self, subscriptions: Sequence[object], now: datetime) -> None:
        _nothing("open_subscriptions", subscriptions)


def _nothing(name: str, asked: Sequence[object]) -> int:
    if asked:
        raise NotCollectable(name)
    return 0
