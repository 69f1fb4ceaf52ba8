"""Starting instances: S1 (active build), S2 (pinned build), S3 (copyDataFrom).

A start is one transaction: resolve the build and definition, assemble the data (copying
from the source for S3), refuse bad starts before anything is written, run the engine until
every token waits, then insert the instance, its audit events, its jobs and its
idempotency key together.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from procflow.engine.events import AuditEvent, Start
from procflow.engine.handlers import is_resume_node
from procflow.engine.start import check_start_data, choose_start_node
from procflow.model.build import Build
from procflow.model.data import JsonObject
from procflow.model.errors import (
    ActiveBuildChanged,
    BuildNotFound,
    IdempotencyKeyReused,
    InvalidParameter,
    ProcessInstanceNotFound,
    WorkspaceNotFound,
)
from procflow.model.instance import Lineage, ProcessInstance
from procflow.model.limits import check_instance_data
from procflow.runtime.access import Principal, Role
from procflow.runtime.catalog import ResolvedDefinition
from procflow.runtime.context import RuntimeContext
from procflow.runtime.copying import CopySpec, copied_data, lineage_of_copy, read_source
from procflow.runtime.pipeline import RetryableConflict, apply_step, run_command
from procflow.store.port import IdempotencyRecord, StoreTxn


@dataclass(frozen=True)
class StartTarget:
    """Which build to start on: the app's active build, or a pinned ``build_id``."""

    app_id: UUID
    workspace_id: UUID | None = None
    build_id: UUID | None = None


@dataclass(frozen=True)
class StartRequest:
    target: StartTarget
    process_name: str
    body: JsonObject = field(default_factory=dict)
    copy: CopySpec | None = None
    idempotency_key: str | None = None
    platform: str | None = None

    def fingerprint(self) -> str:
        """What makes two requests "the same" for an Idempotency-Key."""
        part = {
            "app": str(self.target.app_id),
            "workspace": str(self.target.workspace_id),
            "build": str(self.target.build_id),
            "process": self.process_name,
            "body": self.body,
            "copy": self.copy.as_request_part() if self.copy else None,
        }
        return hashlib.sha256(orjson.dumps(part, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class StartOutcome:
    instance: ProcessInstance
    build: Build
    # True when an Idempotency-Key matched an earlier start and nothing new was created.
    replayed: bool = False


@dataclass(frozen=True)
class PreparedStart:
    resolved: ResolvedDefinition
    workspace_id: UUID
    data: JsonObject
    start_node_id: str
    lineage: Lineage
    # True when ``start_node_id`` is a copy's ``startAt`` (any node), not a start node.
    downstream: bool = False
    # The app's active build (not a pinned one), maybe as cached: the insert checks it.
    on_active_build: bool = False


log = logging.getLogger("procflow.runtime")


class _LostIdempotencyRace(RetryableConflict):
    """Another request inserted the same key first; retry to answer with its instance."""


def start_process(ctx: RuntimeContext, principal: Principal, request: StartRequest) -> StartOutcome:
    def attempt(txn: StoreTxn, now: datetime) -> StartOutcome:
        return start_in(ctx, txn, now, principal, request)

    def exhausted() -> Exception:
        return IdempotencyKeyReused("Concurrent requests with this Idempotency-Key; retry.")

    return run_command(ctx, attempt, exhausted, command="start")


def dry_run(ctx: RuntimeContext, principal: Principal, request: StartRequest) -> PreparedStart:
    """Everything a start would check and compute, with nothing written."""
    with ctx.store.read_transaction() as txn:
        prepared = prepare_start(ctx, txn, principal, request)
    # The answer a real start would give for data it could not save.
    check_instance_data(prepared.data, ctx.data_limits)
    return prepared


def start_in(
    ctx: RuntimeContext, txn: StoreTxn, now: datetime, principal: Principal, request: StartRequest
) -> StartOutcome:
    key = request.idempotency_key
    fingerprint = request.fingerprint() if key is not None else ""
    if key is not None:
        # Before resolving anything: a replay answers the first instance exactly as it is,
        # even after another build was activated (or lost the process).
        replay = _replay(ctx, txn, principal, request.target, key, fingerprint)
        if replay is not None:
            return replay
    prepared = prepare_start(ctx, txn, principal, request, cached=True)
    try:
        saved = _insert_new_instance(ctx, txn, now, prepared, request)
    except ActiveBuildChanged:
        # Another build was activated since it was cached (maybe on another replica).
        ctx.catalog.forget_active_build(prepared.workspace_id, request.target.app_id)
        raise
    if key is not None:
        record = IdempotencyRecord(prepared.workspace_id, key, fingerprint, saved.uuid)
        if not txn.insert_idempotency(record):
            raise _LostIdempotencyRace()
    return StartOutcome(saved, prepared.resolved.build)


def prepare_start(
    ctx: RuntimeContext,
    txn: StoreTxn,
    principal: Principal,
    request: StartRequest,
    *,
    cached: bool = False,
) -> PreparedStart:
    """``cached``: the app's active build may come from the catalog's cache (a start, whose
    insert checks it is still active); a dry run reads it from the store."""
    resolved = _resolve(ctx, txn, principal, request.target, request.process_name, cached)
    on_active = request.target.build_id is None
    workspace_id = resolved.build.workspace_id
    data, lineage = request.body, Lineage()
    if request.copy is not None:
        source = read_source(txn, principal, workspace_id, request.copy)
        data, lineage = copied_data(source, request.copy, request.body), lineage_of_copy(source)
    start_at = request.copy.start_at if request.copy is not None else None
    if start_at is not None:
        # Resuming downstream: the start node's mandatory params are not checked.
        _check_resume_node(resolved, start_at)
        return PreparedStart(
            resolved, workspace_id, data, start_at, lineage, downstream=True,
            on_active_build=on_active,
        )  # fmt: skip
    start = choose_start_node(resolved.definition, data)
    check_start_data(start, data)
    return PreparedStart(resolved, workspace_id, data, start.id, lineage, on_active_build=on_active)


def _check_resume_node(resolved: ResolvedDefinition, node_id: str) -> None:
    if not is_resume_node(resolved.definition.nodes.get(node_id), resolved.definition):
        raise InvalidParameter(
            f"startAt: the process {resolved.definition.name!r} has no node {node_id!r} "
            "a token can start at.",
            parameter="startAt",
            startAt=node_id,
        )


def _resolve(
    ctx: RuntimeContext,
    txn: StoreTxn,
    principal: Principal,
    target: StartTarget,
    process_name: str,
    cached: bool,
) -> ResolvedDefinition:
    workspace_id = _visible_workspace(ctx, txn, principal, target)
    if target.build_id is None:
        if cached:
            build = ctx.catalog.cached_active_build(txn, workspace_id, target.app_id)
        else:
            build = ctx.catalog.active_build(txn, workspace_id, target.app_id)
    else:
        build = ctx.catalog.pinned_build(txn, target.app_id, target.build_id)
    return ctx.catalog.resolve(build, process_name)


def _replay(
    ctx: RuntimeContext,
    txn: StoreTxn,
    principal: Principal,
    target: StartTarget,
    key: str,
    fingerprint: str,
) -> StartOutcome | None:
    workspace_id = _visible_workspace(ctx, txn, principal, target)
    record = txn.get_idempotency(workspace_id, key)
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(idempotencyKey=key)
    instance = txn.get_instance(record.instance_uuid)
    if instance is None:
        raise ProcessInstanceNotFound()
    return StartOutcome(instance, ctx.catalog.build(txn, instance.build_id), replayed=True)


def _visible_workspace(
    ctx: RuntimeContext, txn: StoreTxn, principal: Principal, target: StartTarget
) -> UUID:
    """The workspace a start targets, once the principal may start there."""
    if target.build_id is None:
        assert target.workspace_id is not None, "an unpinned start names its workspace"
        principal.require(target.workspace_id, Role.START, WorkspaceNotFound())
        return target.workspace_id
    build = ctx.catalog.pinned_build(txn, target.app_id, target.build_id)
    # A build of an invisible workspace answers exactly like a build that does not exist.
    principal.require(build.workspace_id, Role.START, BuildNotFound())
    return build.workspace_id


def _insert_new_instance(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    prepared: PreparedStart,
    request: StartRequest,
) -> ProcessInstance:
    resolved = prepared.resolved
    instance = ProcessInstance(
        uuid=uuid4(),
        workspace_id=prepared.workspace_id,
        app_id=resolved.build.app_id,
        build_id=resolved.build.id,
        definition_id=resolved.source.id,
        definition_name=resolved.definition.name,
        created_at=now,
        updated_at=now,
        data=prepared.data,
        lineage=prepared.lineage,
    )
    created = AuditEvent("instance_created", details=_creation_details(prepared, request))
    applied = apply_step(
        ctx,
        txn,
        instance,
        Start(prepared.start_node_id, downstream=prepared.downstream),
        now,
        build=resolved.build,
        is_new=True,
        while_active=prepared.on_active_build,
        prelude=(created,),
    )
    return applied.instance


def _creation_details(prepared: PreparedStart, request: StartRequest) -> dict[str, Any]:
    details: dict[str, Any] = {"buildId": str(prepared.resolved.build.id)}
    if prepared.lineage.copied_from_uuid is not None:
        details["copiedFromUuid"] = str(prepared.lineage.copied_from_uuid)
    if prepared.downstream:
        details["startAt"] = prepared.start_node_id
    if request.idempotency_key is not None:
        details["idempotencyKey"] = request.idempotency_key
    if request.platform is not None:
        details["flowxPlatform"] = request.platform
    return details
