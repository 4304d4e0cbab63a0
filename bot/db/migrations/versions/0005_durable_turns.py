"""Every channel's turns through the inbox: turn results, resumable web chats, idle links, erasure locks.

Revision ID: 0005_durable_turns
Revises: 0004_channel_inbox_outbox
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_durable_turns"
down_revision: str | None = "0004_channel_inbox_outbox"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add ``channel_inbox.result``, ``conversations.resume_secret_hash``,
    ``channel_identities.last_seen_at`` and the ``erasures`` table."""
    with op.batch_alter_table("channel_inbox") as batch:
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("resume_secret_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("channel_identities") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
    op.create_table(
        "erasures",
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_erasures"),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("erasures")
    with op.batch_alter_table("channel_identities") as batch:
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("resume_secret_hash")
    with op.batch_alter_table("channel_inbox") as batch:
        batch.drop_column("result")
