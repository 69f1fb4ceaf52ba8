"""What an admin reads: workspaces, apps, builds (active or not) and definition sources."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from procflow.model.build import App, Build, DefinitionSource, Workspace
from procflow.model.errors import BuildNotFound, ProcessDefinitionNotFound, WorkspaceNotFound
from procflow.runtime.access import ANY_WORKSPACE, Principal, Role
from procflow.runtime.catalog import check_app_in_workspace
from procflow.runtime.context import RuntimeContext
from procflow.store.port import BuildSummary


@dataclass(frozen=True)
class BuildListing:
    builds: tuple[BuildSummary, ...]
    active_build_id: UUID | None


def workspaces(ctx: RuntimeContext, principal: Principal) -> list[Workspace]:
    """Every workspace for a global admin; otherwise those the principal administers."""
    with ctx.store.read_transaction() as txn:
        found = txn.list_workspaces()
    if Role.ADMIN in principal.roles.get(ANY_WORKSPACE, frozenset()):
        return found
    return [w for w in found if principal.may(w.id, Role.ADMIN)]


def apps(ctx: RuntimeContext, principal: Principal, workspace_id: UUID) -> list[App]:
    principal.require(workspace_id, Role.ADMIN, WorkspaceNotFound())
    with ctx.store.read_transaction() as txn:
        if txn.get_workspace(workspace_id) is None:
            raise WorkspaceNotFound(workspaceId=str(workspace_id))
        return txn.list_apps(workspace_id)


def builds(
    ctx: RuntimeContext, principal: Principal, workspace_id: UUID, app_id: UUID
) -> BuildListing:
    principal.require(workspace_id, Role.ADMIN, WorkspaceNotFound())
    with ctx.store.read_transaction() as txn:
        check_app_in_workspace(txn, workspace_id, app_id)
        listed = tuple(txn.list_builds(app_id))
        return BuildListing(listed, txn.get_active_build_id(workspace_id, app_id))


def build(
    ctx: RuntimeContext, principal: Principal, workspace_id: UUID, app_id: UUID, build_id: UUID
) -> tuple[Build, bool]:
    """The build and whether it is the app's active build."""
    principal.require(workspace_id, Role.ADMIN, WorkspaceNotFound())
    with ctx.store.read_transaction() as txn:
        check_app_in_workspace(txn, workspace_id, app_id)
        found = txn.get_build(build_id)
        if found is None or found.app_id != app_id:
            raise BuildNotFound(buildId=str(build_id))
        return found, txn.get_active_build_id(workspace_id, app_id) == build_id


def definition_source(
    ctx: RuntimeContext,
    principal: Principal,
    workspace_id: UUID,
    app_id: UUID,
    build_id: UUID,
    process_name: str,
) -> DefinitionSource:
    found, _ = build(ctx, principal, workspace_id, app_id, build_id)
    source = found.definition_named(process_name)
    if source is None:
        raise ProcessDefinitionNotFound(processName=process_name)
    return source
