"""Executor runs get a deterministic identity (recorded before anything is created) and what they target.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executor_runs") as batch:
        batch.add_column(sa.Column("identity", sa.String(512), nullable=False, server_default=""))
        batch.add_column(sa.Column("namespace", sa.String(253), nullable=True))
        batch.add_column(sa.Column("target", sa.String(253), nullable=False, server_default=""))
        batch.add_column(sa.Column("object_name", sa.String(253), nullable=False, server_default=""))
    op.create_index("ix_executor_runs_identity", "executor_runs", ["identity"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_executor_runs_identity", table_name="executor_runs")
    with op.batch_alter_table("executor_runs") as batch:
        for column in ("object_name", "target", "namespace", "identity"):
            batch.drop_column(column)
