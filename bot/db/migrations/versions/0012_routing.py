"""Routing of handoffs: queues, languages, offers and tags; agents' channels, capacity and presence; notes.

Revision ID: 0012_routing
Revises: 0011_replica_coordination
Create Date: 2026-12-05 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_routing"
down_revision: str | None = "0011_replica_coordination"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the routing columns, ``agent_presence`` and ``handoff_notes``."""
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("channels", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("capacity", sa.Integer(), nullable=False, server_default="3"))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("queue", sa.String(length=40), nullable=False, server_default="general"))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("stage", sa.String(length=12), nullable=False, server_default="new"))
        batch.add_column(sa.Column("offered_to", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("offered_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("passed_by", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
        batch.create_foreign_key("fk_handoffs_offered_to_agents", "agents", ["offered_to"], ["id"], ondelete="SET NULL")
    op.create_table(
        "agent_presence",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name="fk_agent_presence_agent_id_agents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name="pk_agent_presence"),
    )
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name="fk_handoff_notes_handoff_id_handoffs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name="fk_handoff_notes_agent_id_agents", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_notes"),
    )
    op.create_index("ix_handoff_notes_handoff_id", "handoff_notes", ["handoff_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_handoff_notes_handoff_id", table_name="handoff_notes")
    op.drop_table("handoff_notes")
    op.drop_table("agent_presence")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_constraint("fk_handoffs_offered_to_agents", type_="foreignkey")
        for column in ("tags", "passed_by", "offered_at", "offered_to", "stage", "language", "queue"):
            batch.drop_column(column)
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("capacity")
        batch.drop_column("channels")
