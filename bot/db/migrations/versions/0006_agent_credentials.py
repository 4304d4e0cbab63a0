"""Per-agent API credentials (one row per token, kept as its SHA-256 hash); the Slack desk's posts.

Revision ID: 0006_agent_credentials
Revises: 0005_durable_turns
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_agent_credentials"
down_revision: str | None = "0005_durable_turns"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``agent_credentials`` and ``slack_desk_posts``."""
    op.create_table(
        "agent_credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name="fk_agent_credentials_agent_id_agents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agent_credentials"),
        sa.UniqueConstraint("token_hash", name="uq_agent_credentials_token_hash"),
    )
    op.create_index("ix_agent_credentials_agent_id", "agent_credentials", ["agent_id"])
    op.create_table(
        "slack_desk_posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name="fk_slack_desk_posts_handoff_id_handoffs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_slack_desk_posts"),
        sa.UniqueConstraint("channel", "ts", name="uq_slack_desk_posts_channel_ts"),
    )
    op.create_index("ix_slack_desk_posts_handoff_id", "slack_desk_posts", ["handoff_id"])


def downgrade() -> None:
    """Drop both tables (every issued agent token stops working; the desk forgets its threads)."""
    op.drop_index("ix_slack_desk_posts_handoff_id", table_name="slack_desk_posts")
    op.drop_table("slack_desk_posts")
    op.drop_index("ix_agent_credentials_agent_id", table_name="agent_credentials")
    op.drop_table("agent_credentials")
