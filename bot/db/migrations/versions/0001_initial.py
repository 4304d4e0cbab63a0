"""Initial schema: customer records, catalog, stock, agents, conversations and handoffs.

Hand-checked against ``bot/db/models.py``. Constraints that the models leave unnamed are
named here (``uq_*``, ``fk_*``) so that later migrations can drop or alter them by the
same name on SQLite (batch mode) and PostgreSQL. Enums are stored as VARCHAR(20) without
a CHECK constraint (``native_enum=False``), exactly as the models declare them.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    target_table = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{target_table}", ondelete=ondelete)


def upgrade() -> None:
    """Create every table of the initial schema with its keys and indexes."""
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("model_number", sa.String(length=40), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("specs", sa.JSON(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("compatible_with", sa.JSON(), nullable=False),
        sa.Column("warranty_months", sa.Integer(), nullable=False),
        sa.Column("is_subscription", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_products"),
    )
    op.create_index("ix_products_category", "products", ["category"], unique=False)
    op.create_index("ix_products_model_number", "products", ["model_number"], unique=False)
    op.create_table(
        "stores",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("opening_hours", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stores"),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("slack_user_id", sa.String(length=40), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("email", name="uq_agents_email"),
    )
    op.create_table(
        "channel_identities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("linked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("channel_identities", "customer_id", "customers.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_channel_identities"),
        sa.UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),
    )
    op.create_index("ix_channel_identities_customer_id", "channel_identities", ["customer_id"], unique=False)
    op.create_table(
        "stock_levels",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _fk("stock_levels", "store_id", "stores.id", ondelete="CASCADE"),
        _fk("stock_levels", "sku", "products.sku", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("store_id", "sku", name="pk_stock_levels"),
    )
    op.create_table(
        "orders",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            _enum("order_status", "processing", "shipped", "delivered", "returned", "cancelled"),
            nullable=False,
        ),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=True),
        sa.Column("tracking_number", sa.String(length=60), nullable=True),
        sa.Column("shipped_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        _fk("orders", "customer_id", "customers.id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("number", name="pk_orders"),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"], unique=False)
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        _fk("order_items", "order_number", "orders.number", ondelete="CASCADE"),
        _fk("order_items", "sku", "products.sku"),
        sa.PrimaryKeyConstraint("id", name="pk_order_items"),
    )
    op.create_index("ix_order_items_order_number", "order_items", ["order_number"], unique=False)
    op.create_table(
        "devices",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=True),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("warranty_until", sa.Date(), nullable=False),
        _fk("devices", "customer_id", "customers.id", ondelete="CASCADE"),
        _fk("devices", "sku", "products.sku"),
        _fk("devices", "order_number", "orders.number", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("serial", name="pk_devices"),
    )
    op.create_index("ix_devices_customer_id", "devices", ["customer_id"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("plan_sku", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("next_bill_on", sa.Date(), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _fk("subscriptions", "customer_id", "customers.id", ondelete="CASCADE"),
        _fk("subscriptions", "plan_sku", "products.sku"),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_customer_id", "subscriptions", ["customer_id"], unique=False)
    op.create_table(
        "invoices",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _fk("invoices", "customer_id", "customers.id", ondelete="CASCADE"),
        _fk("invoices", "subscription_id", "subscriptions.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("number", name="pk_invoices"),
    )
    op.create_index("ix_invoices_customer_id", "invoices", ["customer_id"], unique=False)
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("conversations", "customer_id", "customers.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_customer_id", "conversations", ["customer_id"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("sender", _enum("message_sender", "customer", "bot", "agent", "system"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.String(length=4000), nullable=True),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("messages", "conversation_id", "conversations.id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_message_client_id"),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"], unique=False)
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("status", _enum("handoff_status", "open", "claimed", "resolved"), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("packet", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        _fk("handoffs", "conversation_id", "conversations.id", ondelete="CASCADE"),
        _fk("handoffs", "agent_id", "agents.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
    )
    op.create_index("ix_handoffs_conversation_id", "handoffs", ["conversation_id"], unique=False)


def downgrade() -> None:
    """Drop every table (and with it its indexes), children before parents."""
    for table in (
        "handoffs",
        "messages",
        "conversations",
        "invoices",
        "subscriptions",
        "devices",
        "order_items",
        "orders",
        "stock_levels",
        "channel_identities",
        "agents",
        "stores",
        "products",
        "customers",
    ):
        op.drop_table(table)
