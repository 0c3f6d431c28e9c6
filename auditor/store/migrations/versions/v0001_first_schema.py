"""The first schema: scans, cluster scans, volume statuses, findings.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("tool_version", sa.String(40), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
    )
    op.create_index("ix_scans_as_of", "scans", ["as_of"])
    op.create_table(
        "cluster_scans",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("scan_id", sa.Integer, nullable=False),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("source", sa.String(1024), nullable=True),
        sa.Column("volumes_audited", sa.Integer, nullable=False),
        sa.Column("volumes_protected", sa.Integer, nullable=False),
        sa.Column("volumes_stale", sa.Integer, nullable=False),
        sa.Column("volumes_unprotected", sa.Integer, nullable=False),
        sa.Column("volumes_unknown", sa.Integer, nullable=False),
        sa.Column("findings_open", sa.Integer, nullable=False),
        sa.Column("findings_by_severity", JSON, nullable=False),
        sa.Column("new_findings", sa.Integer, nullable=False),
        sa.Column("resolved_findings", sa.Integer, nullable=False),
        sa.Column("compliance", JSON, nullable=True),
        sa.Column("protection", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_scans"),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name="fk_cluster_scans_scan_id_scans", ondelete="CASCADE"),
        sa.UniqueConstraint("scan_id", "cluster", name="uq_cluster_scans_scan_id_cluster"),
    )
    op.create_index("ix_cluster_scans_scan_id", "cluster_scans", ["scan_id"])
    op.create_index("ix_cluster_scans_cluster_as_of", "cluster_scans", ["cluster", "as_of"])
    op.create_table(
        "volumes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cluster_scan_id", sa.Integer, nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("pvc", sa.String(253), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("audited", sa.Boolean, nullable=False),
        sa.Column("last_success", TIME, nullable=True),
        sa.Column("policy", sa.String(253), nullable=False),
        sa.Column("methods", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_volumes"),
        sa.ForeignKeyConstraint(["cluster_scan_id"], ["cluster_scans.id"],
                                name="fk_volumes_cluster_scan_id_cluster_scans", ondelete="CASCADE"),
    )
    op.create_index("ix_volumes_cluster_scan_id", "volumes", ["cluster_scan_id"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cluster_scan_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(1024), nullable=False),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=True),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.ForeignKeyConstraint(["cluster_scan_id"], ["cluster_scans.id"],
                                name="fk_findings_cluster_scan_id_cluster_scans", ondelete="CASCADE"),
    )
    op.create_index("ix_findings_cluster_scan_identity", "findings", ["cluster_scan_id", "identity"])
