"""Call activities: an instance's parent and root in its call tree, and its depth.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Self-contained: three nullable columns and two indexes on ``process_instances``, so the
revision can be re-chained after any other revision that does not touch them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("process_instances") as table:
        table.add_column(sa.Column("parent_uuid", sa.Uuid(), nullable=True))
        table.add_column(sa.Column("root_uuid", sa.Uuid(), nullable=True))
        table.add_column(sa.Column("call_depth", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_process_instances_parent_uuid"), "process_instances", ["parent_uuid"])
    op.create_index(op.f("ix_process_instances_root_uuid"), "process_instances", ["root_uuid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_process_instances_root_uuid"), table_name="process_instances")
    op.drop_index(op.f("ix_process_instances_parent_uuid"), table_name="process_instances")
    with op.batch_alter_table("process_instances") as table:
        table.drop_column("call_depth")
        table.drop_column("root_uuid")
        table.drop_column("parent_uuid")
