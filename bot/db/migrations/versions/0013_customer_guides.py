"""Troubleshooting guides a verified customer left paused, resumable on any of their channels.

Revision ID: 0013_customer_guides
Revises: 0012_routing
Create Date: 2026-12-05 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013_customer_guides"
down_revision: str | None = "0012_routing"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``customer_guides``."""
    op.create_table(
        "customer_guides",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("guide_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_guides_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "guide_id", name="pk_customer_guides"),
    )
    op.create_index("ix_customer_guides_paused_at", "customer_guides", ["paused_at"])


def downgrade() -> None:
    """Drop ``customer_guides`` (paused guides can then be resumed only in their own conversation)."""
    op.drop_index("ix_customer_guides_paused_at", table_name="customer_guides")
    op.drop_table("customer_guides")
