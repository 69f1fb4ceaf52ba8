"""The database schema, written once for every dialect (SQLAlchemy Core).

Alembic migrations in ``store/migrations`` create exactly this schema; a contract test
compares the migrated database with ``metadata`` on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JsonDocument: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

# A 64-bit id on PostgreSQL; SQLite only autoincrements a column declared ``INTEGER``.
BigId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, aware UTC out, on every backend.

    SQLite has no timezone type, so values are stored as naive UTC text (fixed width, so they
    compare correctly as strings) and marked UTC again when read. Naive datetimes are refused:
    guessing their zone is how timestamps silently drift.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: procflow stores aware UTC timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

apps = Table(
    "apps",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("workspace_id", Uuid, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
)

builds = Table(
    "builds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("workspace_id", Uuid, ForeignKey("workspaces.id"), nullable=False),
    Column("app_id", Uuid, ForeignKey("apps.id"), nullable=False),
    Column("checksum", String(100), nullable=False),
    Column("status", String(30), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

process_definitions = Table(
    "process_definitions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("build_id", Uuid, ForeignKey("builds.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("build_id", "name"),
)

active_builds = Table(
    "active_builds",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id"), nullable=False),
    Column("app_id", Uuid, ForeignKey("apps.id"), nullable=False),
    Column("build_id", Uuid, ForeignKey("builds.id"), nullable=False),
    PrimaryKeyConstraint("workspace_id", "app_id"),
)

process_instances = Table(
    "process_instances",
    metadata,
    # The FlowX numeric ``processInstanceId``; the uuid is the public identity.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uuid", Uuid, nullable=False, unique=True),
    Column("workspace_id", Uuid, nullable=False),
    Column("app_id", Uuid, nullable=False),
    Column("build_id", Uuid, nullable=False),
    Column("definition_id", Uuid, nullable=False),
    Column("definition_name", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("data", JsonDocument, nullable=False),
    Column("document", JsonDocument, nullable=False),
    Column("version", Integer, nullable=False),
    Column("copied_from_uuid", Uuid, nullable=True),
    Column("lineage_root_uuid", Uuid, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Call activities (migration 0005): the calling instance, the call tree's root, depth.
    Column("parent_uuid", Uuid, nullable=True),
    Column("root_uuid", Uuid, nullable=True),
    Column("call_depth", Integer, nullable=True),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
    ForeignKeyConstraint(["build_id"], ["builds.id"]),
    ForeignKeyConstraint(["definition_id"], ["process_definitions.id"]),
    Index(None, "workspace_id", "definition_name", "id"),
    Index(None, "workspace_id", "state", "id"),
    Index(None, "lineage_root_uuid"),
    Index(None, "workspace_id", "created_at"),
    Index(None, "parent_uuid"),
    Index(None, "root_uuid"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", Uuid, nullable=False),
    Column("type", String(100), nullable=False),
    Column("node_id", String(200), nullable=True),
    Column("token_uuid", Uuid, nullable=True),
    Column("details", JsonDocument, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "instance_uuid", "seq"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("workspace_id", Uuid, nullable=False),
    Column("key", String(300), nullable=False),
    Column("request_hash", String(100), nullable=False),
    Column("instance_uuid", Uuid, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "key"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(50), nullable=False),
    # Unique among pending jobs: "<instance>/<wait>" for an instance's wait, or a timer
    # start's occurrence; a second schedule of the same thing is a no-op, never a double.
    Column("key", String(400), nullable=True, unique=True),
    Column("instance_uuid", Uuid, nullable=True),
    Column("wait_id", String(100), nullable=True),
    Column("token_uuid", Uuid, nullable=True),
    Column("node_id", String(200), nullable=True),
    Column("payload", JsonDocument, nullable=False),
    Column("run_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    # Jobs of an instance on hold (or failed, awaiting a retry) stay but are not claimed.
    Column("held", Boolean, nullable=False),
    Column("locked_by", String(200), nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "run_at"),
    Index(None, "instance_uuid", "wait_id"),
    # Completed jobs are deleted; never hand a deleted job's id to a new one, so a late
    # worker holding an old id cannot complete someone else's job.
    sqlite_autoincrement=True,
)

external_tasks = Table(
    "external_tasks",
    metadata,
    # Derived from (instance, wait): the public task id workers fetch, lock and complete.
    Column("id", Uuid, primary_key=True),
    Column("instance_uuid", Uuid, nullable=False),
    Column("wait_id", String(100), nullable=False),
    Column("token_uuid", Uuid, nullable=False),
    Column("node_id", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("retries", Integer, nullable=False),
    # Not fetchable before this (a failure's retryTimeout).
    Column("available_at", UtcDateTime, nullable=False),
    Column("locked_by", String(200), nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("error_details", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("instance_uuid", "wait_id"),
    # The fetch order (migration 0006): a fetch walks it and stops at its LIMIT.
    Index(None, "topic", "available_at", "created_at"),
)

message_subscriptions = Table(
    "message_subscriptions",
    metadata,
    # Increasing: the oldest matching subscription receives a message first.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_uuid", Uuid, nullable=False),
    Column("wait_id", String(100), nullable=False),
    Column("token_uuid", Uuid, nullable=False),
    Column("node_id", String(200), nullable=False),
    Column("message_name", String(200), nullable=False),
    # Computed when the token arrived; NULL: the subscription takes messages without a key.
    Column("correlation_key", String(400), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("instance_uuid", "wait_id"),
    Index(None, "message_name", "correlation_key"),
)

buffered_messages = Table(
    "buffered_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("workspace_id", Uuid, nullable=False),
    Column("message_name", String(200), nullable=False),
    Column("correlation_key", String(400), nullable=True),
    Column("data", JsonDocument, nullable=False),
    Column("message_id", String(200), nullable=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "workspace_id", "message_name", "correlation_key"),
)

# The answer given to a messageId, so that the same messageId again answers it unchanged.
message_results = Table(
    "message_results",
    metadata,
    Column("workspace_id", Uuid, nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("result", JsonDocument, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "message_id"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("workspace_id", Uuid, ForeignKey("workspaces.id"), nullable=False),
    # copyDataFrom, retry or terminate, applied to every item.
    Column("operation", String(30), nullable=False),
    # RUNNING, COMPLETED or CANCELLED.
    Column("state", String(20), nullable=False),
    # What each item does (body, query, processName, appId) and the filter that chose them.
    Column("spec", JsonDocument, nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Index(None, "workspace_id", "created_at"),
)

batch_items = Table(
    "batch_items",
    metadata,
    Column("batch_id", Uuid, ForeignKey("batches.id"), nullable=False),
    # The item's position in the batch: its cursor, and part of its idempotency key.
    Column("seq", Integer, nullable=False),
    Column("source_uuid", Uuid, nullable=False),
    # PENDING until the one transaction that applies it marks it DONE or FAILED.
    Column("state", String(20), nullable=False),
    Column("result_uuid", Uuid, nullable=True),
    Column("error", JsonDocument, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("batch_id", "seq"),
    Index(None, "batch_id", "state", "seq"),
)
