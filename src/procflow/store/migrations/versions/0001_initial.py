"""Initial schema: deployments, instances, audit log, idempotency keys and jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Types are spelled out here rather than imported from ``schema.py``, so this revision keeps
creating the same tables however the current schema module evolves.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def _uuid(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Uuid(), nullable=nullable)


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=unique)


def upgrade() -> None:
    _deployments()
    _instances()
    _audit_and_keys()
    _jobs()


def _deployments() -> None:
    op.create_table(
        "workspaces",
        _uuid("id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "apps",
        _uuid("id"),
        _uuid("workspace_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_apps_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
    )
    op.create_table(
        "builds",
        _uuid("id"),
        _uuid("workspace_id"),
        _uuid("app_id"),
        sa.Column("checksum", sa.String(100), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_builds_app_id_apps")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_builds_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
    )
    op.create_table(
        "process_definitions",
        _uuid("id"),
        _uuid("build_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_process_definitions_build_id_builds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_definitions")),
        sa.UniqueConstraint("build_id", "name", name=op.f("uq_process_definitions_build_id_name")),
    )
    op.create_table(
        "active_builds",
        _uuid("workspace_id"),
        _uuid("app_id"),
        _uuid("build_id"),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_active_builds_app_id_apps")),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_active_builds_build_id_builds")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_active_builds_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "app_id", name=op.f("pk_active_builds")),
    )


def _instances() -> None:
    op.create_table(
        "process_instances",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        _uuid("uuid"),
        _uuid("workspace_id"),
        _uuid("app_id"),
        _uuid("build_id"),
        _uuid("definition_id"),
        sa.Column("definition_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _uuid("copied_from_uuid", nullable=True),
        _uuid("lineage_root_uuid", nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_process_instances_build_id_builds")
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_process_instances_definition_id_process_definitions"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_process_instances_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_instances")),
        sa.UniqueConstraint("uuid", name=op.f("uq_process_instances_uuid")),
    )
    _index("process_instances", "workspace_id", "definition_name", "id")
    _index("process_instances", "workspace_id", "state", "id")
    _index("process_instances", "lineage_root_uuid")
    _index("process_instances", "workspace_id", "created_at")


def _audit_and_keys() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        _uuid("instance_uuid"),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=True),
        _uuid("token_uuid", nullable=True),
        sa.Column("details", Json, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    _index("audit_events", "instance_uuid", "seq")
    op.create_table(
        "idempotency_keys",
        _uuid("workspace_id"),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("request_hash", sa.String(100), nullable=False),
        _uuid("instance_uuid"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "key", name=op.f("pk_idempotency_keys")),
    )


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        _uuid("instance_uuid"),
        _uuid("token_uuid"),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("run_at", Timestamp, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("locked_until", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sqlite_autoincrement=True,
    )
    _index("jobs", "run_at")


def downgrade() -> None:
    for table in (
        "jobs",
        "idempotency_keys",
        "audit_events",
        "process_instances",
        "active_builds",
        "process_definitions",
        "builds",
        "apps",
        "workspaces",
    ):
        op.drop_table(table)
