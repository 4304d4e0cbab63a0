"""Customer satisfaction score of a resolved handoff, and when an unclaimed handoff was escalated.

Revision ID: 0003_handoff_csat
Revises: 0002_identity_and_audit
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_handoff_csat"
down_revision: str | None = "0002_identity_and_audit"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add ``handoffs.escalated_at``, ``handoffs.csat`` (1-5) and ``handoffs.csat_at``."""
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("csat", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("csat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("csat_at")
        batch.drop_column("csat")
        batch.drop_column("escalated_at")
