"""Report manifests (written by the report command) and executor runs (written by the executor, later).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_manifests",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("scan_id", sa.Integer, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("format", sa.String(255), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("manifest", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_manifests"),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name="fk_report_manifests_scan_id_scans",
                                ondelete="SET NULL"),
    )
    op.create_index("ix_report_manifests_scan_id", "report_manifests", ["scan_id"])
    op.create_table(
        "executor_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_executor_runs"),
    )
    op.create_index("ix_executor_runs_cluster_started", "executor_runs", ["cluster", "started_at"])


def downgrade() -> None:
    op.drop_table("executor_runs")
    op.drop_table("report_manifests")
