"""External tasks: the fetch order's index holds the whole order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

A fetch takes the oldest fetchable tasks of a topic, ``ORDER BY available_at, created_at``.
The index on ``(topic, available_at)`` alone left the second key to a sort of every
fetchable task of the topic before the ``LIMIT`` (measured on PostgreSQL: 8 ms per fetch with
600 waiting tasks, 74 ms with stale statistics); with ``created_at`` in the index the scan
stops at the first tasks it can lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "ix_external_tasks_topic_available_at"
_NEW = "ix_external_tasks_topic_available_at_created_at"


def upgrade() -> None:
    op.create_index(op.f(_NEW), "external_tasks", ["topic", "available_at", "created_at"])
    op.drop_index(op.f(_OLD), table_name="external_tasks")


def downgrade() -> None:
    op.create_index(op.f(_OLD), "external_tasks", ["topic", "available_at"])
    op.drop_index(op.f(_NEW), table_name="external_tasks")
