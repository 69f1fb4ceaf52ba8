"""External tasks and messages: the fetchable, lockable row of each external-task wait; the
message subscriptions of message waits, buffered messages, and messageId answers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


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

    _create_message_tables()


def _create_message_tables() -> None:
    op.create_table(
        "message_subscriptions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.Uuid(), nullable=False),
        sa.Column("wait_id", sa.String(100), nullable=False),
        sa.Column("token_uuid", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("message_name", sa.String(200), nullable=False),
        sa.Column("correlation_key", sa.String(400), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_subscriptions")),
        sa.UniqueConstraint(
            "instance_uuid", "wait_id", name=op.f("uq_message_subscriptions_instance_uuid_wait_id")
        ),
    )
    op.create_index(
        op.f("ix_message_subscriptions_message_name_correlation_key"),
        "message_subscriptions",
        ["message_name", "correlation_key"],
    )
    op.create_table(
        "buffered_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("message_name", sa.String(200), nullable=False),
        sa.Column("correlation_key", sa.String(400), nullable=True),
        sa.Column("data", Json, nullable=False),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buffered_messages")),
    )
    op.create_index(
        op.f("ix_buffered_messages_workspace_id_message_name_correlation_key"),
        "buffered_messages",
        ["workspace_id", "message_name", "correlation_key"],
    )
    op.create_table(
        "message_results",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("result", Json, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "message_id", name=op.f("pk_message_results")),
    )


def downgrade() -> None:
    op.drop_table("message_results")
    op.drop_table("buffered_messages")
    op.drop_table("message_subscriptions")
    op.drop_index(op.f("ix_external_tasks_topic_available_at"), table_name="external_tasks")
    op.drop_table("external_tasks")
