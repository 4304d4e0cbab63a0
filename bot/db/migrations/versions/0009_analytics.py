"""Analytics: outcome events of conversations (turns, guides, CSAT) for the support figures.

Revision ID: 0009_analytics
Revises: 0008_self_service
Create Date: 2026-12-05 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_analytics"
down_revision: str | None = "0008_self_service"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``analytics_events``; record how a handoff closed."""
    op.add_column("handoffs", sa.Column("closed_how", sa.String(length=20), nullable=True))
    op.create_table(
        "analytics_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("topic", sa.String(length=80), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_analytics_events"),
        sa.UniqueConstraint("source", name="uq_analytics_events_source"),
    )
    op.create_index("ix_analytics_events_kind", "analytics_events", ["kind"])
    op.create_index("ix_analytics_events_conversation_id", "analytics_events", ["conversation_id"])
    op.create_index("ix_analytics_events_customer_id", "analytics_events", ["customer_id"])
    op.create_index("ix_analytics_events_at", "analytics_events", ["at"])


def downgrade() -> None:
    """Drop ``analytics_events`` and the handoffs' ``closed_how``."""
    op.drop_table("analytics_events")
    op.drop_column("handoffs", "closed_how")
