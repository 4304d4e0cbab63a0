"""Self-service: cancellations, returns, refunds, address and contact changes, marketing opt-out.

Revision ID: 0008_self_service
Revises: 0007_help_answers
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_self_service"
down_revision: str | None = "0007_help_answers"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the order, line and customer columns and the four self-service tables."""
    op.add_column("customers", sa.Column("marketing_opt_in", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("orders", sa.Column("shipping_address", sa.Text(), nullable=True))
    op.add_column("orders", sa.Column("payment_method", sa.String(length=20), nullable=True))
    op.add_column("order_items", sa.Column("returnable", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_service_requests"),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_service_request_key"),
    )
    op.create_index("ix_service_requests_customer_id", "service_requests", ["customer_id"])
    op.create_table(
        "returns",
        sa.Column("rma", sa.String(length=20), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("refund_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_number"], ["orders.number"], name="fk_returns_order_number_orders", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_returns_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("rma", name="pk_returns"),
    )
    op.create_index("ix_returns_order_number", "returns", ["order_number"])
    op.create_index("ix_returns_customer_id", "returns", ["customer_id"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expected_by", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_number"], ["orders.number"], name="fk_refunds_order_number_orders", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_refunds_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
    )
    op.create_index("ix_refunds_order_number", "refunds", ["order_number"])
    op.create_index("ix_refunds_customer_id", "refunds", ["customer_id"])
    op.create_table(
        "contact_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("new_value", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_contact_changes_customer_id_customers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contact_changes"),
    )
    op.create_index("ix_contact_changes_customer_id", "contact_changes", ["customer_id"])


def downgrade() -> None:
    """Drop the self-service tables and columns (returns, refunds and requests made in the chat are lost)."""
    for table in ("contact_changes", "refunds", "returns", "service_requests"):
        op.drop_table(table)  # its indexes go with it
    with op.batch_alter_table("order_items") as batch:
        batch.drop_column("returnable")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_method")
        batch.drop_column("shipping_address")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("marketing_opt_in")
