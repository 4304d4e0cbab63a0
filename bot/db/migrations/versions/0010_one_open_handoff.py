"""One open handoff per conversation, as a constraint: two replicas opening one at once get one.

Revision ID: 0010_one_open_handoff
Revises: 0009_analytics
Create Date: 2026-12-05 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_one_open_handoff"
down_revision: str | None = "0009_analytics"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

UNRESOLVED = sa.text("status != 'resolved'")


def upgrade() -> None:
    """Close duplicates a race may have left (the oldest stays), then forbid them."""
    op.execute(
        "UPDATE handoffs SET status = 'resolved', closed_how = 'duplicate', resolved_at = created_at "
        "WHERE status != 'resolved' AND id > ("
        "SELECT MIN(h.id) FROM handoffs h WHERE h.conversation_id = handoffs.conversation_id "
        "AND h.status != 'resolved')"
    )
    op.create_index(
        "uq_handoffs_one_unresolved",
        "handoffs",
        ["conversation_id"],
        unique=True,
        sqlite_where=UNRESOLVED,
        postgresql_where=UNRESOLVED,
    )


def downgrade() -> None:
    """Drop the constraint."""
    op.drop_index("uq_handoffs_one_unresolved", table_name="handoffs")
