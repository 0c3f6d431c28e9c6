"""Waiver history: when each exception (waiver) appeared, changed or vanished, as the scans saw it.

Revision ID: 0004w
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004w"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "waiver_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("scan_id", sa.Integer, nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("waiver", sa.String(512), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_waiver_events"),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name="fk_waiver_events_scan_id_scans",
                                ondelete="SET NULL"),
    )
    op.create_index("ix_waiver_events_waiver_at", "waiver_events", ["waiver", "at"])


def downgrade() -> None:
    op.drop_index("ix_waiver_events_waiver_at", table_name="waiver_events")
    op.drop_table("waiver_events")
