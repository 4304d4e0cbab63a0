"""Help-center answers the bot gave and the customers' "did that help?" verdicts.

Revision ID: 0007_help_answers
Revises: 0006_agent_credentials
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_help_answers"
down_revision: str | None = "0006_agent_credentials"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Create ``help_answers``."""
    op.create_table(
        "help_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("section_id", sa.String(length=200), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("feedback_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_help_answers"),
    )
    op.create_index("ix_help_answers_conversation_id", "help_answers", ["conversation_id"])


def downgrade() -> None:
    """Drop ``help_answers`` (the feedback record is lost)."""
    op.drop_index("ix_help_answers_conversation_id", table_name="help_answers")
    op.drop_table("help_answers")
