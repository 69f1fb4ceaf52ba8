"""Admin reads in SQL: workspaces, apps and builds as lists (mixed into ``SqlTxn``)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, bindparam, select

from procflow.model.build import App, Workspace
from procflow.store.port import BuildSummary
from procflow.store.schema import apps, builds, workspaces

_b = builds.c
SELECT_WORKSPACES = select(workspaces.c.id, workspaces.c.name).order_by(workspaces.c.name)
SELECT_APPS = (
    select(apps.c.id, apps.c.workspace_id, apps.c.name)
    .where(apps.c.workspace_id == bindparam("workspace_id"))
    .order_by(apps.c.name)
)
SELECT_BUILDS = (
    select(_b.id, _b.workspace_id, _b.app_id, _b.checksum, _b.status, _b.created_at)
    .where(_b.app_id == bindparam("app_id"))
    .order_by(_b.created_at.desc(), _b.id)
)
SELECT_BUILD_BY_CHECKSUM = (
    select(_b.id)
    .where(_b.app_id == bindparam("app_id"), _b.checksum == bindparam("checksum"))
    .order_by(_b.created_at)
    .limit(1)
)


class CatalogReads:
    connection: Connection

    def list_workspaces(self) -> list[Workspace]:
        return [Workspace(r.id, r.name) for r in self.connection.execute(SELECT_WORKSPACES)]

    def list_apps(self, workspace_id: UUID) -> list[App]:
        rows = self.connection.execute(SELECT_APPS, {"workspace_id": workspace_id})
        return [App(r.id, r.workspace_id, r.name) for r in rows]

    def list_builds(self, app_id: UUID) -> list[BuildSummary]:
        rows = self.connection.execute(SELECT_BUILDS, {"app_id": app_id})
        return [BuildSummary(**row._mapping) for row in rows]

    def find_build_by_checksum(self, app_id: UUID, checksum: str) -> UUID | None:
        params = {"app_id": app_id, "checksum": checksum}
        found: UUID | None = self.connection.execute(SELECT_BUILD_BY_CHECKSUM, params).scalar()
        return found
