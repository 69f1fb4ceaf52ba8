"""Jobs v2: a job has a kind, a payload, a unique key and the wait it fires; it can be held.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

The jobs table is rebuilt (SQLite cannot relax NOT NULL in place) and its pending rows are
carried over: every v1 job was an async task of one token, and becomes the wait the instance
document upgrade gives that token (``legacy_task_wait_id``), so nothing queued is lost. The
id sequence continues where it was: a late worker must never meet a reused job id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

_V1_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("id", BigId),
    ("kind", sa.String()),
    ("instance_uuid", sa.Uuid()),
    ("token_uuid", sa.Uuid()),
    ("node_id", sa.String()),
    ("run_at", Timestamp),
    ("attempts", sa.Integer()),
    ("locked_by", sa.String()),
    ("locked_until", Timestamp),
    ("last_error", sa.Text()),
    ("created_at", Timestamp),
)
_V2_ADDED: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("key", sa.String()),
    ("wait_id", sa.String()),
    ("payload", Json),
    ("held", sa.Boolean()),
)


def legacy_task_wait_id(token_uuid: UUID) -> str:
    """Must equal ``model.instance.legacy_task_wait_id``; spelled out so that this revision
    never changes when the model does."""
    return f"t{token_uuid}"


def upgrade() -> None:
    connection = op.get_bind()
    rows = [dict(row._mapping) for row in connection.execute(_v1_jobs())]
    next_id = max([_sequence_position(connection), *(row["id"] for row in rows)])
    op.drop_table("jobs")
    _create_v2()
    if rows:
        connection.execute(_v2_jobs().insert(), [_carried_over(row) for row in rows])
    _restore_sequence(connection, next_id)


def _v1_jobs() -> sa.Select[Any]:
    return sa.select(sa.table("jobs", *(sa.column(n, t) for n, t in _V1_COLUMNS)))


def _v2_jobs() -> sa.TableClause:
    return sa.table("jobs", *(sa.column(n, t) for n, t in (*_V1_COLUMNS, *_V2_ADDED)))


def _carried_over(row: dict[str, Any]) -> dict[str, Any]:
    wait_id = legacy_task_wait_id(row["token_uuid"])
    return {
        **row,
        "kind": "task",
        "key": f"{row['instance_uuid']}/{wait_id}",
        "wait_id": wait_id,
        "payload": {},
        "held": False,
    }


def _create_v2() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("key", sa.String(400), nullable=True),
        sa.Column("instance_uuid", sa.Uuid(), nullable=True),
        sa.Column("wait_id", sa.String(100), nullable=True),
        sa.Column("token_uuid", sa.Uuid(), nullable=True),
        sa.Column("node_id", sa.String(200), nullable=True),
        sa.Column("payload", Json, nullable=False),
        sa.Column("run_at", Timestamp, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("locked_until", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_jobs_run_at"), "jobs", ["run_at"])
    op.create_index(op.f("ix_jobs_instance_uuid_wait_id"), "jobs", ["instance_uuid", "wait_id"])


def _sequence_position(connection: sa.Connection) -> int:
    """The last id handed out, including ids of jobs already deleted."""
    if connection.dialect.name == "postgresql":
        row = connection.execute(sa.text("SELECT last_value, is_called FROM jobs_id_seq")).one()
        return int(row.last_value) if row.is_called else 0
    found = connection.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'")
    ).scalar()
    return int(found or 0)


def _restore_sequence(connection: sa.Connection, last_id: int) -> None:
    if last_id == 0:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT setval('jobs_id_seq', :v)"), {"v": last_id})
        return
    updated = connection.execute(
        sa.text("UPDATE sqlite_sequence SET seq = :v WHERE name = 'jobs'"), {"v": last_id}
    )
    if updated.rowcount == 0:
        connection.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', :v)"), {"v": last_id}
        )


def downgrade() -> None:
    raise NotImplementedError("jobs v2 cannot be downgraded: v1 jobs cannot hold timers")
