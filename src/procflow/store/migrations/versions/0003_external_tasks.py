"""External tasks: the fetchable, lockable row of each instance's external-task wait.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_uuid", sa.Uuid(), nullable=False),
        sa.Column("wait_id", sa.String(100), nullable=False),
        sa.Column("token_uuid", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("available_at", Timestamp, nullable=False),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("locked_until", Timestamp, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_tasks")),
        sa.UniqueConstraint(
            "instance_uuid", "wait_id", name=op.f("uq_external_tasks_instance_uuid_wait_id")
        ),
    )
    op.create_index(
        op.f("ix_external_tasks_topic_available_at"), "external_tasks", ["topic", "available_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_external_tasks_topic_available_at"), table_name="external_tasks")
    op.drop_table("external_tasks")
