"""Timer start events: each due time of the app's active build starts exactly one instance.

When a build becomes the app's active build, the jobs of the previous build's timer starts
are deleted and one job per timer start event of the new build is queued, in the same
transaction as the activation. A job's key names its occurrence, so scheduling one twice
queues it once. The worker fires a job by starting the instance, deleting the job (under its
claim) and queuing the next occurrence, all in one transaction: a crash anywhere leaves
either all of it or none, and the claim lets only one worker commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from procflow.engine.evaluate import EvaluationFailed, evaluate
from procflow.engine.events import AuditEvent, Start
from procflow.model.build import Build
from procflow.model.definition import ProcessDefinition, StartNode
from procflow.model.instance import ProcessInstance
from procflow.model.timers import InvalidTimer, TimerKind, first_due, next_due
from procflow.runtime.catalog import parse_source
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import apply_step
from procflow.store.port import Job, NewJob, StoreTxn

TIMER_START = "timer_start"

log = logging.getLogger("procflow.runtime")


def app_key_prefix(app_id: UUID) -> str:
    return f"timer-start/{app_id}/"


def occurrence_key(app_id: UUID, build_id: UUID, process: str, node: str, due: datetime) -> str:
    return f"{app_key_prefix(app_id)}{build_id}/{process}/{node}/{due.isoformat()}"


def activate(txn: StoreTxn, build: Build, now: datetime) -> None:
    """Make ``build`` the app's active build, and its timer start events the app's."""
    txn.set_active_build(build.workspace_id, build.app_id, build.id)
    txn.cancel_jobs_with_key_prefix(app_key_prefix(build.app_id))
    txn.enqueue_jobs(list(_first_occurrences(build, now)))


def _first_occurrences(build: Build, now: datetime) -> Iterator[NewJob]:
    for source in build.definitions:
        definition = parse_source(source)
        for start in definition.start_nodes:
            job = _first_occurrence(build, definition, start, now)
            if job is not None:
                yield job


def _first_occurrence(
    build: Build, definition: ProcessDefinition, start: StartNode, now: datetime
) -> NewJob | None:
    if start.timer is None:
        return None
    value = _value(start)
    try:
        due = first_due(start.timer.kind, value, now) if value is not None else None
    except InvalidTimer as error:
        due = None
        log.warning("timer start not scheduled: %s", error, extra={"node": start.id})
    if due is None:
        return None
    payload = {"workspaceId": str(build.workspace_id), "appId": str(build.app_id),
               "buildId": str(build.id), "process": definition.name, "nodeId": start.id,
               "kind": start.timer.kind.value, "value": value, "fired": 0}  # fmt: skip
    return _job(payload, due)


def _value(start: StartNode) -> str | None:
    """A timer start's value; a CEL one is computed without data (there is no instance yet)."""
    assert start.timer is not None
    if start.timer.expression is None:
        return start.timer.value
    outcome = evaluate(start.timer.expression, {})
    if isinstance(outcome, EvaluationFailed) or not isinstance(outcome.value, str):
        log.warning("timer start not scheduled: its expression gives no timer value",
                    extra={"node": start.id})  # fmt: skip
        return None
    return outcome.value


def _job(payload: dict[str, Any], due: datetime) -> NewJob:
    key = occurrence_key(UUID(payload["appId"]), UUID(payload["buildId"]), payload["process"],
                         payload["nodeId"], due)  # fmt: skip
    return NewJob(TIMER_START, due, key=key, node_id=payload["nodeId"], payload=payload)


def fire(ctx: RuntimeContext, txn: StoreTxn, job: Job, now: datetime) -> ProcessInstance | None:
    """Start the instance of this occurrence and queue the next one; None when the build is
    no longer the app's active build (the job is obsolete). The caller deletes the job."""
    payload = job.payload
    workspace_id, app_id = UUID(payload["workspaceId"]), UUID(payload["appId"])
    if txn.get_active_build_id(workspace_id, app_id) != UUID(payload["buildId"]):
        return None
    build = ctx.catalog.build(txn, UUID(payload["buildId"]))
    resolved = ctx.catalog.resolve(build, payload["process"])
    instance = ProcessInstance(
        uuid=uuid4(), workspace_id=workspace_id, app_id=app_id, build_id=build.id,
        definition_id=resolved.source.id, definition_name=resolved.definition.name,
        created_at=now, updated_at=now,
    )  # fmt: skip
    details = {"buildId": str(build.id), "timerStart": {"nodeId": payload["nodeId"],
               "dueAt": job.run_at.isoformat()}}  # fmt: skip
    created = AuditEvent("instance_created", details=details)
    applied = apply_step(ctx, txn, instance, Start(payload["nodeId"]), now, build=build,
                         is_new=True, prelude=(created,))  # fmt: skip
    _queue_next(txn, payload, job.run_at, now)
    return applied.instance


def _queue_next(txn: StoreTxn, payload: dict[str, Any], previous: datetime, now: datetime) -> None:
    """The next occurrence after this one. Occurrences missed while no worker ran (due
    before ``now``) are skipped, not started in a burst: one start per firing."""
    kind, value = TimerKind(payload["kind"]), payload["value"]
    fired = int(payload["fired"]) + 1
    due = next_due(kind, value, previous, fired)
    while due is not None and due <= now:
        fired += 1
        due = next_due(kind, value, due, fired)
    if due is not None:
        txn.enqueue_jobs([_job({**payload, "fired": fired}, due)])


def skip(txn: StoreTxn, job: Job, now: datetime) -> None:
    """The worker gave up on this occurrence (it kept failing): the schedule goes on."""
    log.error("timer start occurrence skipped after repeated failures", extra={"job": job.id})
    _queue_next(txn, job.payload, job.run_at, now)
