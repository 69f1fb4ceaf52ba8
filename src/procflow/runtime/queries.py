"""Read-only services: instance status and data, audit, lineage, build info, search."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from procflow.model.build import Build
from procflow.model.errors import InvalidParameter, WorkspaceNotFound
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState
from procflow.runtime.access import Principal, Role
from procflow.runtime.commands import load_visible
from procflow.runtime.context import RuntimeContext
from procflow.runtime.views import InstanceView
from procflow.store.port import AuditRecord, ExternalTask, InstanceQuery

MAX_INSTANCE_ID = 2**63 - 1


@dataclass(frozen=True)
class LineageView:
    instance: ProcessInstance
    # From the lineage root down to the instance's direct source.
    ancestors: tuple[ProcessInstance, ...]
    # Every instance copied from this one, directly or through other copies, oldest first.
    descendants: tuple[ProcessInstance, ...]


def instance_view(
    ctx: RuntimeContext,
    principal: Principal,
    instance_uuid: UUID,
    *,
    with_audit_summary: bool = False,
) -> InstanceView:
    with ctx.store.read_transaction() as txn:
        instance = load_visible(txn, principal, Role.READ, instance_uuid)
        build = ctx.catalog.build(txn, instance.build_id)
        summary = txn.summarize_audit(instance_uuid) if with_audit_summary else None
        children = tuple(txn.children_of(instance_uuid)) if with_audit_summary else ()
    definition = ctx.catalog.definition_in(build, instance.definition_id)
    return InstanceView(instance, build, summary, definition, children)


def audit_log(ctx: RuntimeContext, principal: Principal, instance_uuid: UUID) -> list[AuditRecord]:
    with ctx.store.read_transaction() as txn:
        load_visible(txn, principal, Role.READ, instance_uuid)
        return txn.list_audit(instance_uuid)


def external_tasks(
    ctx: RuntimeContext, principal: Principal, instance_uuid: UUID
) -> list[ExternalTask]:
    """The instance's open external tasks, with who holds each lock and until when."""
    with ctx.store.read_transaction() as txn:
        load_visible(txn, principal, Role.READ, instance_uuid)
        return txn.list_external_tasks(instance_uuid)


def lineage_view(ctx: RuntimeContext, principal: Principal, instance_uuid: UUID) -> LineageView:
    with ctx.store.read_transaction() as txn:
        instance = load_visible(txn, principal, Role.READ, instance_uuid)
        root = instance.lineage.lineage_root_uuid or instance.uuid
        members = {member.uuid: member for member in txn.lineage_members(root)}
    members[instance.uuid] = instance
    return LineageView(instance, _ancestors(instance, members), _descendants(instance, members))


def _ancestors(
    instance: ProcessInstance, members: dict[UUID, ProcessInstance]
) -> tuple[ProcessInstance, ...]:
    chain: list[ProcessInstance] = []
    source_uuid = instance.lineage.copied_from_uuid
    while source_uuid is not None and source_uuid in members:
        source = members[source_uuid]
        chain.append(source)
        source_uuid = source.lineage.copied_from_uuid
    return tuple(reversed(chain))


def _descendants(
    instance: ProcessInstance, members: dict[UUID, ProcessInstance]
) -> tuple[ProcessInstance, ...]:
    children: dict[UUID, list[ProcessInstance]] = {}
    for member in members.values():
        if member.lineage.copied_from_uuid is not None:
            children.setdefault(member.lineage.copied_from_uuid, []).append(member)
    found: list[ProcessInstance] = []
    frontier = [instance.uuid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child.uuid)
    return tuple(sorted(found, key=lambda m: (m.created_at, m.id or 0)))


def instance_build(ctx: RuntimeContext, principal: Principal, instance_uuid: UUID) -> Build:
    return instance_view(ctx, principal, instance_uuid).build


def active_build(
    ctx: RuntimeContext, principal: Principal, workspace_id: UUID, app_id: UUID
) -> Build:
    principal.require(workspace_id, Role.READ, WorkspaceNotFound())
    with ctx.store.read_transaction() as txn:
        return ctx.catalog.active_build(txn, workspace_id, app_id)


def search_instances(
    ctx: RuntimeContext, principal: Principal, query: InstanceQuery
) -> list[ProcessInstance]:
    principal.require(query.workspace_id, Role.READ, WorkspaceNotFound())
    if query.after is not None and not 0 <= query.after <= MAX_INSTANCE_ID:
        # Instance ids are 64-bit signed integers in both stores: a larger cursor is not one
        # this API ever handed out (and the database driver would overflow on it).
        raise InvalidParameter("cursor is not a cursor this search returned.", parameter="cursor")
    with ctx.store.read_transaction() as txn:
        return txn.search_instances(query)


def count_by_state(
    ctx: RuntimeContext, principal: Principal, query: InstanceQuery
) -> dict[str, int]:
    """How many instances the search's other filters match, in each state (one read
    transaction, so the counts are of one moment)."""
    principal.require(query.workspace_id, Role.READ, WorkspaceNotFound())
    with ctx.store.read_transaction() as txn:
        return {
            state.value: txn.count_instances(replace(query, states=(state,)))
            for state in InstanceState
        }
