"""Replica coordination: leases for single-holder work, and platform events already handled.

Revision ID: 0011_replica_coordination
Revises: 0010_one_open_handoff
Create Date: 2026-12-05 13:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_replica_coordination"
down_revision: str | None = "0010_one_open_handoff"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``replica_leases`` and ``seen_events``."""
    op.create_table(
        "replica_leases",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_replica_leases"),
    )
    op.create_table(
        "seen_events",
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id", name="pk_seen_events"),
    )
    op.create_index("ix_seen_events_seen_at", "seen_events", ["seen_at"])


def downgrade() -> None:
    """Drop both."""
    op.drop_index("ix_seen_events_seen_at", table_name="seen_events")
    op.drop_table("seen_events")
    op.drop_table("replica_leases")
