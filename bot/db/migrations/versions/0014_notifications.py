"""Proactive follow-up: customers' notification settings, order notifications, web chats' follow-up emails.

Revision ID: 0014_notifications
Revises: 0013_customer_guides
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_notifications"
down_revision: str | None = "0013_customer_guides"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``customer_notification_settings``, ``customer_notifications`` and ``web_follow_ups``."""
    op.create_table(
        "customer_notification_settings",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("order_updates", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_notification_settings_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_notification_settings"),
    )
    op.create_table(
        "customer_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_notifications_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_customer_notifications_message_id_messages", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_notifications"),
        sa.UniqueConstraint("customer_id", "order_number", "event", name="uq_customer_notifications_once"),
    )
    op.create_index("ix_customer_notifications_due", "customer_notifications", ["state", "due_at"])
    op.create_table(
        "web_follow_ups",
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("consented_at", sa.DateTime(), nullable=False),
        sa.Column("mailed_handoff_id", sa.Integer(), nullable=True),
        sa.Column("mailed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_web_follow_ups_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_web_follow_ups"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("web_follow_ups")
    op.drop_index("ix_customer_notifications_due", table_name="customer_notifications")
    op.drop_table("customer_notifications")
    op.drop_table("customer_notification_settings")
