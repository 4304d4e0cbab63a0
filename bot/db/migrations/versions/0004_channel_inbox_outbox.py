"""Durable inbox and outbox of the push channels (Telegram, Slack), conversation addresses, deep links.

Revision ID: 0004_channel_inbox_outbox
Revises: 0003_handoff_csat
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_channel_inbox_outbox"
down_revision: str | None = "0003_handoff_csat"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``channel_inbox``, ``channel_outbox`` and ``deep_links``; add ``conversations.address``."""
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("address", sa.JSON(), nullable=True))
    op.create_table(
        "channel_inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_inbox"),
        sa.UniqueConstraint("platform", "external_id", name="uq_inbox_platform_external"),
    )
    op.create_index("ix_inbox_state_conversation", "channel_inbox", ["state", "conversation_id", "id"])
    op.create_table(
        "channel_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_key", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("platform_ref", sa.String(length=100), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_channel_outbox_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_channel_outbox_message_id_messages", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_channel_outbox"),
        sa.UniqueConstraint("message_id", name="uq_channel_outbox_message_id"),
    )
    op.create_index("ix_outbox_state_chat", "channel_outbox", ["state", "chat_key", "id"])
    op.create_table(
        "deep_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_deep_links_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deep_links"),
        sa.UniqueConstraint("token_hash", name="uq_deep_links_token_hash"),
    )


def downgrade() -> None:
    """Drop the three tables and ``conversations.address``."""
    op.drop_table("deep_links")
    op.drop_index("ix_outbox_state_chat", table_name="channel_outbox")
    op.drop_table("channel_outbox")
    op.drop_index("ix_inbox_state_conversation", table_name="channel_inbox")
    op.drop_table("channel_inbox")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("address")
