"""Running the jobs of call activities (shaped in runtime/child_jobs.py).

Each runs as its own command, in the job's transaction (the job is deleted in it), so a
worker killed at any point leaves either nothing or everything:

- ``start_child`` starts the child of a call wait, once: its uuid is derived from the
  parent and the wait, and a child that exists already is not started again. A child that
  cannot be started (no such process, too deep, its start data refused) becomes an incident
  on the parent instead (``ChildStartRefused``).
- ``child_ended_event`` is the engine event a ``child_ended`` job applies to the parent
  (an ``InstanceJob``: held while the parent is on hold or failed, like its other jobs).
- ``run_cascade`` applies a cascaded terminate, hold or unhold to one child; the child's
  own step then queues the jobs of its own children.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from procflow.engine.calls import (
    CALL_DEPTH_EXCEEDED,
    CALLED_ELEMENT_NOT_FOUND,
    child_uuid,
)
from procflow.engine.events import (
    AuditEvent,
    ChildEnded,
    ChildStartRefused,
    Event,
    Hold,
    Start,
    Terminate,
    Unhold,
)
from procflow.engine.start import check_start_data, choose_start_node
from procflow.model.build import Build
from procflow.model.errors import InstanceStateConflict, ProcflowError
from procflow.model.instance import Calling, ProcessInstance
from procflow.model.states import InstanceState
from procflow.runtime.catalog import ResolvedDefinition
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import apply_step
from procflow.store.port import Job, NewAuditEvent, NewJob, StoreTxn

log = logging.getLogger("procflow.runtime")

CALL_REFUSED = "call_refused"
# Its start data was refused (several start nodes without startCondition, mandatory params).
CHILD_START_REFUSED = "child_start_refused"


class _Refused(Exception):
    def __init__(self, incident_type: str, message: str) -> None:
        super().__init__(message)
        self.incident_type, self.message = incident_type, message


def start_child(ctx: RuntimeContext, txn: StoreTxn, job: Job, now: datetime) -> None:
    assert job.instance_uuid is not None and job.wait_id is not None
    parent = txn.get_instance(job.instance_uuid, for_update=True)
    if parent is None or not _still_calling(parent, job):
        return  # the parent ended, or its token left the call activity meanwhile
    uuid = child_uuid(parent.uuid, job.wait_id)
    if txn.get_instance(uuid) is not None:
        return  # started already: this job ran before, up to a lost claim
    try:
        with txn.savepoint():
            child = _start(ctx, txn, parent, job, uuid, now)
    except _Refused as refused:
        log.warning("child not started: %s", refused.message,
                    extra={"instance": str(parent.uuid)})  # fmt: skip
        _refuse(txn, job, refused.incident_type, refused.message, now)
        return
    details = {"childUuid": str(child.uuid), "waitId": job.wait_id,
               "process": child.definition_name}  # fmt: skip
    started = NewAuditEvent("child_started", job.node_id, job.token_uuid, details)
    txn.append_audit(parent.uuid, [started], now)


def give_up_start(txn: StoreTxn, job: Job, now: datetime) -> None:
    """The start kept failing (not a refusal: an error of ours): an incident on the parent."""
    message = f"the child instance could not be started; the worker gave up: {job.payload}"
    _refuse(txn, job, CHILD_START_REFUSED, message[:500], now)


def _still_calling(parent: ProcessInstance, job: Job) -> bool:
    """An async child starts unless its parent was terminated (it may have finished: it
    does not wait); a called one only while its parent's token still waits for it."""
    if job.payload.get("async"):
        return parent.state is not InstanceState.TERMINATED
    return not parent.state.is_final and any(w.id == job.wait_id for w in parent.waits)


def _start(
    ctx: RuntimeContext, txn: StoreTxn, parent: ProcessInstance, job: Job, uuid: UUID,
    now: datetime,
) -> ProcessInstance:  # fmt: skip
    depth = parent.calling.depth + 1
    if depth > ctx.max_call_depth:
        raise _Refused(CALL_DEPTH_EXCEEDED, f"calling {job.payload['calledElement']!r} would "
                       f"nest {depth} instances deep; the limit is {ctx.max_call_depth} "
                       "(PROCFLOW_MAX_CALL_DEPTH)")  # fmt: skip
    resolved = _resolve(ctx, txn, parent, job.payload)
    data: dict[str, Any] = job.payload.get("data") or {}
    try:
        start = choose_start_node(resolved.definition, data)
        check_start_data(start, data)
    except ProcflowError as error:
        text = f"the child's start was refused: {error.message}"
        raise _Refused(CHILD_START_REFUSED, text) from error
    child = ProcessInstance(
        uuid=uuid, workspace_id=parent.workspace_id, app_id=resolved.build.app_id,
        build_id=resolved.build.id, definition_id=resolved.source.id,
        definition_name=resolved.definition.name, created_at=now, updated_at=now, data=data,
        calling=Calling(parent.uuid, parent.calling.root_uuid or parent.uuid, depth),
    )  # fmt: skip
    details = {"buildId": str(resolved.build.id), "parentUuid": str(parent.uuid),
               "callActivity": job.node_id}  # fmt: skip
    created = AuditEvent("instance_created", details=details)
    try:
        applied = apply_step(ctx, txn, child, Start(start.id), now, build=resolved.build,
                             is_new=True, prelude=(created,))  # fmt: skip
    except ProcflowError as error:  # its data refused (too large, not storable)
        text = f"the child's start was refused: {error.message}"
        raise _Refused(CHILD_START_REFUSED, text) from error
    if parent.state is InstanceState.ON_HOLD and applied.instance.state is InstanceState.STARTED:
        # Held while its start was queued: the child joins the hold.
        return apply_step(ctx, txn, applied.instance, Hold(), now, build=applied.build).instance
    return applied.instance


def _resolve(
    ctx: RuntimeContext, txn: StoreTxn, parent: ProcessInstance, payload: dict[str, Any]
) -> ResolvedDefinition:
    name = str(payload["calledElement"])
    try:
        build = _build_to_call(ctx, txn, parent, str(payload.get("binding", "build")))
        return ctx.catalog.resolve(build, name)
    except ProcflowError as error:
        text = f"calledElement {name!r}: {error.message}"
        raise _Refused(CALLED_ELEMENT_NOT_FOUND, text) from error


def _build_to_call(ctx: RuntimeContext, txn: StoreTxn, parent: ProcessInstance,
                   binding: str) -> Build:  # fmt: skip
    if binding == "latest":
        return ctx.catalog.active_build(txn, parent.workspace_id, parent.app_id)
    return ctx.catalog.build(txn, parent.build_id)


def _refuse(txn: StoreTxn, job: Job, incident_type: str, message: str, now: datetime) -> None:
    """Tell the parent through a job of its own: held while the parent is, and deleted with
    the call wait if its token leaves first."""
    assert job.instance_uuid is not None and job.wait_id is not None
    refused = NewJob(CALL_REFUSED, now, key=f"{CALL_REFUSED}/{job.instance_uuid}/{job.wait_id}",
                     instance_uuid=job.instance_uuid, wait_id=job.wait_id,
                     payload={"type": incident_type, "message": message})  # fmt: skip
    txn.enqueue_jobs([refused])


def call_refused_event(job: Job) -> Event:
    assert job.wait_id is not None
    return ChildStartRefused(job.wait_id, job.payload["type"], job.payload["message"])


def child_ended_event(job: Job) -> Event:
    payload = job.payload
    return ChildEnded(
        UUID(payload["child"]),
        payload["outcome"],
        payload.get("data") or {},
        payload.get("errorCode", ""),
        payload.get("message", ""),
    )


def run_cascade(ctx: RuntimeContext, txn: StoreTxn, job: Job, now: datetime) -> None:
    payload = job.payload
    child = txn.get_instance(UUID(payload["child"]), for_update=True)
    if child is None:
        return  # never started: its start job went with the parent's wait
    event = _cascaded_event(payload)
    try:
        apply_step(ctx, txn, child, event, now)
    except InstanceStateConflict:
        # It finished (or failed) in the meantime: nothing to terminate, hold or unhold.
        log.info("cascade skipped", extra={"instance": str(child.uuid), "state": child.state})


def skip_cascade(_txn: StoreTxn, job: Job, _now: datetime) -> None:
    log.error("cascade to a child abandoned after repeated failures",
              extra={"job": job.id, "child": job.payload.get("child")})  # fmt: skip


def _cascaded_event(payload: dict[str, Any]) -> Event:
    by = payload.get("by")
    parent = payload.get("parent")
    if payload["operation"] == "terminate":
        reason = payload.get("reason") or ""
        return Terminate(f"parent {parent} terminated" + (f": {reason}" if reason else ""), by)
    if payload["operation"] == "hold":
        return Hold(by)
    return Unhold(by)
