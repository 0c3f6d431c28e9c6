"""Fleets: each cluster scan names its cluster's kube-system uid and its agent's interval, retention can
reduce old scans to summaries, and the clusters agents report are kept by (name, uid).

Revision ID: 0005
Revises: 0004w
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004w"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cluster_scans") as batch:
        batch.add_column(sa.Column("cluster_uid", sa.String(64), nullable=True))
        batch.add_column(sa.Column("interval_seconds", sa.Float, nullable=True))
        batch.add_column(sa.Column("summary_only", sa.Boolean, nullable=False, server_default="0"))
    op.create_table(
        "cluster_identities",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("last_recorded", TIME, nullable=False),
        sa.Column("interval_seconds", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_identities"),
        sa.UniqueConstraint("name", "uid", name="uq_cluster_identities_name_uid"),
    )
    # the identities of clusters already in the store (no uid was recorded then)
    op.execute("INSERT INTO cluster_identities (name, uid, first_seen, last_seen, last_recorded) "
               "SELECT cs.cluster, '', min(cs.as_of), max(cs.as_of), max(s.recorded_at) "
               "FROM cluster_scans cs JOIN scans s ON s.id = cs.scan_id GROUP BY cs.cluster")


def downgrade() -> None:
    op.drop_table("cluster_identities")
    with op.batch_alter_table("cluster_scans") as batch:
        for column in ("summary_only", "interval_seconds", "cluster_uid"):
            batch.drop_column(column)
