# mypy: disallow-subclassing-any=False
"""SQLAlchemy models: the bot's own records and the demo company's customer records.

Money is stored in integer cents with an ISO currency code; timestamps are UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.sql.expression import text, true

Base: Any = declarative_base()


def utcnow() -> dt.datetime:
    """Return the current time in UTC, timezone-naive (as stored)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class OrderStatus(str, enum.Enum):
    """Lifecycle of an order."""

    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class Sender(str, enum.Enum):
    """Who wrote a conversation message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class HandoffStatus(str, enum.Enum):
    """Lifecycle of a handoff to a human agent."""

    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], native_enum=False, length=20)


class Customer(Base):
    """A customer of the company, as held in the customer-record system."""

    __tablename__ = "customers"

    id = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    email = Column(String(320), nullable=False, unique=True)
    phone = Column(String(40))
    city = Column(String(120))
    country = Column(String(2))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # Marketing emails and SMS; the customer can opt out in the chat (transactional mail always goes).
    marketing_opt_in = Column(Boolean, nullable=False, default=True, server_default=true())

    identities = relationship("ChannelIdentity", back_populates="customer")
    orders = relationship("Order", back_populates="customer")


class ChannelIdentity(Base):
    """A customer's identity on one channel (Slack user, Telegram chat, web visitor)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(200), nullable=False)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True)
    linked_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # The linked chat's latest message: a link idle longer than BOT_LINK_IDLE_DAYS no longer verifies.
    last_seen_at = Column(DateTime)

    customer = relationship("Customer", back_populates="identities")


class Product(Base):
    """A product in the catalog (hardware or a subscription plan)."""

    __tablename__ = "products"

    sku = Column(String(40), primary_key=True)
    name = Column(String(200), nullable=False)
    category = Column(String(40), nullable=False, index=True)
    model_number = Column(String(40), index=True)
    price_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    description = Column(Text, nullable=False, default="")
    specs = Column(JSON, nullable=False, default=dict)
    aliases = Column(JSON, nullable=False, default=list)
    compatible_with = Column(JSON, nullable=False, default=list)
    warranty_months = Column(Integer, nullable=False, default=24)
    is_subscription = Column(Boolean, nullable=False, default=False)


class Store(Base):
    """A physical store (stockist) that holds stock."""

    __tablename__ = "stores"

    id = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    city = Column(String(120), nullable=False)
    address = Column(String(300), nullable=False)
    opening_hours = Column(String(200), nullable=False, default="")


class StockLevel(Base):
    """How many units of a product one store holds."""

    __tablename__ = "stock_levels"

    store_id = Column(String(32), ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    sku = Column(String(40), ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True)
    quantity = Column(Integer, nullable=False, default=0)


class Order(Base):
    """A customer's order."""

    __tablename__ = "orders"

    number = Column(String(20), primary_key=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(_enum(OrderStatus, "order_status"), nullable=False)
    placed_at = Column(DateTime, nullable=False)
    total_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    carrier = Column(String(40))
    tracking_number = Column(String(60))
    shipped_at = Column(DateTime)
    delivered_at = Column(DateTime)
    status_changed_at = Column(DateTime)
    # Where it goes and how it was paid (refund timing depends on the method: data/records/policy.yml).
    shipping_address = Column(Text)
    payment_method = Column(String(20))

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", cascade="all, delete-orphan")


class OrderItem(Base):
    """One line of an order."""

    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_number = Column(String(20), ForeignKey("orders.number", ondelete="CASCADE"), nullable=False, index=True)
    sku = Column(String(40), ForeignKey("products.sku"), nullable=False)
    quantity = Column(Integer, nullable=False, default=1)
    unit_price_cents = Column(Integer, nullable=False)
    # False for a line that cannot be sent back (e.g. a cable cut to length).
    returnable = Column(Boolean, nullable=False, default=True, server_default=true())

    order = relationship("Order", back_populates="items")


class Device(Base):
    """A registered device (by serial number) with its warranty."""

    __tablename__ = "devices"

    serial = Column(String(40), primary_key=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    sku = Column(String(40), ForeignKey("products.sku"), nullable=False)
    order_number = Column(String(20), ForeignKey("orders.number", ondelete="SET NULL"))
    purchased_on = Column(Date, nullable=False)
    warranty_until = Column(Date, nullable=False)


class Subscription(Base):
    """A customer's subscription to a plan."""

    __tablename__ = "subscriptions"

    id = Column(String(32), primary_key=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    plan_sku = Column(String(40), ForeignKey("products.sku"), nullable=False)
    status = Column(String(20), nullable=False)  # active, paused, cancelled, past_due
    started_on = Column(Date, nullable=False)
    next_bill_on = Column(Date)
    price_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")


class Invoice(Base):
    """An invoice issued to a customer."""

    __tablename__ = "invoices"

    number = Column(String(20), primary_key=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    subscription_id = Column(String(32), ForeignKey("subscriptions.id", ondelete="SET NULL"))
    issued_on = Column(Date, nullable=False)
    due_on = Column(Date, nullable=False)
    amount_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    status = Column(String(20), nullable=False)  # paid, open, overdue, failed


class Agent(Base):
    """A human support agent."""

    __tablename__ = "agents"

    id = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    email = Column(String(320), nullable=False, unique=True)
    slack_user_id = Column(String(40))
    skills = Column(JSON, nullable=False, default=list)
    languages = Column(JSON, nullable=False, default=list)
    # The customer channels the agent serves (web, api, telegram, slack); empty: every channel.
    channels = Column(JSON, nullable=False, default=list, server_default="[]")
    # How many handoffs the agent holds at once before no more are offered.
    capacity = Column(Integer, nullable=False, default=3, server_default="3")
    active = Column(Boolean, nullable=False, default=True)


class AgentPresence(Base):
    """Whether an agent is online, away or offline (runtime state, not part of the roster)."""

    __tablename__ = "agent_presence"

    agent_id = Column(String(32), ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    status = Column(String(10), nullable=False, default="offline")  # online, away, offline
    source = Column(String(10), nullable=False, default="console")  # console (needs a heartbeat), slack, api
    changed_at = Column(DateTime, nullable=False, default=utcnow)
    seen_at = Column(DateTime, nullable=False, default=utcnow)  # the last heartbeat


class AgentCredential(Base):
    """One API token of an agent, kept only as its SHA-256 hash (the token is shown once, when issued).

    The agent API resolves a bearer token to its agent here: the token says who acts. A token
    is revoked, never deleted, so the record says when it was made, last used and revoked.
    """

    __tablename__ = "agent_credentials"

    id = Column(Integer, primary_key=True, autoincrement=True)
    agent_id = Column(String(32), ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_used_at = Column(DateTime)
    revoked_at = Column(DateTime)


class Conversation(Base):
    """A conversation between one customer and the bot (and agents), on one channel."""

    __tablename__ = "conversations"

    id = Column(String(128), primary_key=True)
    channel = Column(String(20), nullable=False)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    # Where replies go on a push channel (Telegram chat, Slack channel/thread); NULL for web/direct.
    address = Column(JSON)
    # SHA-256 of the secret a web chat is resumed with (handed to the widget once, never stored in clear).
    resume_secret_hash = Column(String(64))

    # The database deletes the messages (ON DELETE CASCADE); loaded ones are deleted by the session.
    messages = relationship(
        "Message", back_populates="conversation", order_by="Message.id", cascade="all", passive_deletes=True
    )


class Message(Base):
    """One message of a conversation; its autoincrement id is the public cursor."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_id", name="uq_message_client_id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(
        String(128), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sender = Column(_enum(Sender, "message_sender"), nullable=False)
    text = Column(Text, nullable=False, default="")
    payload = Column(String(4000))
    buttons = Column(JSON, nullable=False, default=list)
    client_id = Column(String(64))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    conversation = relationship("Conversation", back_populates="messages")


class Handoff(Base):
    """A request for a human agent to take over a conversation."""

    __tablename__ = "handoffs"
    __table_args__ = (
        # At most one unresolved handoff per conversation, even when two replicas open one at once.
        Index(
            "uq_handoffs_one_unresolved",
            "conversation_id",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(
        String(128), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status = Column(_enum(HandoffStatus, "handoff_status"), nullable=False, default=HandoffStatus.OPEN)
    reason = Column(String(40), nullable=False)
    agent_id = Column(String(32), ForeignKey("agents.id", ondelete="SET NULL"))
    packet = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    claimed_at = Column(DateTime)
    resolved_at = Column(DateTime)
    escalated_at = Column(DateTime)  # when agents were re-notified with priority
    csat = Column(Integer)  # 1-5, asked when the agent resolves
    csat_at = Column(DateTime)
    # How it closed: resolved, handed_back (the bot carries on) or silent (the customer went quiet).
    closed_how = Column(String(20))
    # Routing (bot/handoff/routing.py, data/routing.yml): the queue, the customer's language,
    # and where the handoff is offered: stage "agent" (``offered_to`` alone), "team" (the
    # queue's agents), or "escalated" (everyone, with priority).
    queue = Column(String(40), nullable=False, default="general", server_default="general")
    language = Column(String(8))
    stage = Column(String(12), nullable=False, default="new", server_default="new")
    offered_to = Column(String(32), ForeignKey("agents.id", ondelete="SET NULL"))
    offered_at = Column(DateTime)
    # Agents the handoff was offered to who let it pass (declined, timed out, went away).
    passed_by = Column(JSON, nullable=False, default=list, server_default="[]")
    tags = Column(JSON, nullable=False, default=list, server_default="[]")


class HandoffNote(Base):
    """An agent's internal note on a handoff: agents see it, the customer never does."""

    __tablename__ = "handoff_notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True)
    agent_id = Column(String(32), ForeignKey("agents.id", ondelete="SET NULL"))
    kind = Column(String(12), nullable=False, default="note")  # note, transfer, offer (the handoff's history)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class SlackDeskPost(Base):
    """A message the Slack agent desk posted about a handoff: its thread's root, or a post in the thread.

    The ``root`` rows are the desk's thread map (which thread belongs to which handoff); all rows
    together are the copies of the conversation the desk left in Slack, which erasing the
    customer deletes there (``python -m bot customers erase``). Agents' own replies are not here:
    the desk did not post them.
    """

    __tablename__ = "slack_desk_posts"
    __table_args__ = (UniqueConstraint("channel", "ts", name="uq_slack_desk_posts_channel_ts"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True)
    channel = Column(String(40), nullable=False)
    ts = Column(String(40), nullable=False)
    kind = Column(String(10), nullable=False)  # root, thread
    posted_at = Column(DateTime, nullable=False, default=utcnow)


class RecordAccess(Base):
    """Audit of one customer-record access by the bot: who, what kind, where, when — never contents."""

    __tablename__ = "record_access_audit"

    id = Column(Integer, primary_key=True, autoincrement=True)
    # Plain string, not a foreign key: the audit outlives an erased customer's bot data.
    customer_id = Column(String(32), nullable=False, index=True)
    record_kind = Column(String(40), nullable=False)
    channel = Column(String(20), nullable=False)
    outcome = Column(String(20), nullable=False)  # found, not_found, unavailable
    at = Column(DateTime, nullable=False, default=utcnow)


class LinkCode(Base):
    """A one-time code sent to link a channel identity to a customer (stored hashed)."""

    __tablename__ = "link_codes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(200), nullable=False)
    # NULL when the address given is not on file: the customer is told the same either way.
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=True)
    code_hash = Column(String(128), nullable=False)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_link_codes_identity", "channel", "external_id"),)


class LinkFailure(Base):
    """A wrong code entered for a channel identity (enough of them lock linking for a while)."""

    __tablename__ = "link_failures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(200), nullable=False)
    at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_link_failures_identity", "channel", "external_id", "at"),)


class InboxItem(Base):
    """A platform event (Telegram update, Slack event) stored before it is acknowledged.

    ``(platform, external_id)`` is unique, so a redelivery is recognised and dropped. Items of
    one conversation are processed one at a time in ``id`` order; ``state`` moves
    ``pending`` -> ``stored`` (the customer's message is in ``messages``) -> ``done``, or
    ``ignored`` / ``failed``. A worker holds an item by a lease that a dead worker's
    successor takes over once it runs out (or at once, for the same ``lease_owner``).
    """

    __tablename__ = "channel_inbox"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_inbox_platform_external"),
        Index("ix_inbox_state_conversation", "state", "conversation_id", "id"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    platform = Column(String(20), nullable=False)
    external_id = Column(String(200), nullable=False)
    conversation_id = Column(String(128), nullable=False)
    body = Column(JSON, nullable=False, default=dict)
    state = Column(String(20), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime)
    lease_owner = Column(String(80))
    lease_until = Column(DateTime)
    error = Column(String(200))
    received_at = Column(DateTime, nullable=False, default=utcnow)
    done_at = Column(DateTime)
    # What the turn produced: {"customer": cursor, "replies": [cursors]} (a retried request returns it again).
    result = Column(JSON)


class OutboxItem(Base):
    """A message to deliver on a platform, written in the same transaction as the message itself.

    One row per conversation message (``message_id`` unique): sending is retried until it
    succeeds, and the items of one ``chat_key`` leave in ``id`` order at the platform's pace.
    ``state``: ``pending`` -> ``sending`` (leased) -> ``sent``, or ``failed`` (given up).
    """

    __tablename__ = "channel_outbox"
    __table_args__ = (Index("ix_outbox_state_chat", "state", "chat_key", "id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    platform = Column(String(20), nullable=False)
    chat_key = Column(String(200), nullable=False)
    conversation_id = Column(String(128), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    message_id = Column(Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, unique=True)
    address = Column(JSON, nullable=False, default=dict)
    state = Column(String(20), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    lease_owner = Column(String(80))
    lease_until = Column(DateTime)
    sent_at = Column(DateTime)
    platform_ref = Column(String(100))
    error = Column(String(200))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class DeepLink(Base):
    """A one-time account-linking token for a Telegram ``/start`` deep link (stored hashed)."""

    __tablename__ = "deep_links"

    id = Column(Integer, primary_key=True, autoincrement=True)
    token_hash = Column(String(128), nullable=False, unique=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Erasure(Base):
    """A conversation being erased: its queued turns wait, so nothing in flight writes it back."""

    __tablename__ = "erasures"

    conversation_id = Column(String(128), primary_key=True)
    started_at = Column(DateTime, nullable=False, default=utcnow)


class HelpAnswer(Base):
    """One help-center reply the bot gave, and whether the customer said it helped.

    No text of the customer's is kept: the question is personal data, the section is not.
    ``decision``: ``answer`` (a passage of ``section_id``), ``suggest`` (two articles offered;
    ``section_id`` is the best one) or ``none`` (a person offered).
    """

    __tablename__ = "help_answers"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    decision = Column(String(10), nullable=False)
    section_id = Column(String(200))
    score = Column(Float, nullable=False)
    helpful = Column(Boolean)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    feedback_at = Column(DateTime)


class CustomerGuide(Base):
    """A troubleshooting guide a verified customer left paused, resumable on any of their channels.

    One row per customer and guide (the latest pause wins). ``state`` is the paused guide as the
    ``diag_paused`` slot holds it (guide, step, the options taken, the device category; never
    the customer's own words). ``channel`` and ``conversation_id`` say where it was paused.
    Rows older than 30 days are ignored and pruned (bot/diagnostics/saved.py).
    """

    __tablename__ = "customer_guides"

    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    guide_id = Column(String(64), primary_key=True)
    state = Column(JSON, nullable=False)
    channel = Column(String(20), nullable=False)
    conversation_id = Column(String(128), nullable=False)
    paused_at = Column(DateTime, nullable=False, default=utcnow, index=True)


class ServiceRequest(Base):
    """A change a verified customer asked for in the chat, once per idempotency key.

    ``kind``: ``cancel_order``, ``start_return``, ``change_address``, ``update_contact``,
    ``marketing_opt_out``, ``account_deletion``. ``outcome``: ``done``, ``refused`` or
    ``pending`` (an account deletion waits for an agent). ``result`` is what the customer was
    told, replayed for a repeated confirmation. No address, email or phone is kept here.
    """

    __tablename__ = "service_requests"
    __table_args__ = (UniqueConstraint("customer_id", "idempotency_key", name="uq_service_request_key"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    # Plain string, not a foreign key: a deletion request is kept as proof after the erasure.
    customer_id = Column(String(32), nullable=False, index=True)
    idempotency_key = Column(String(64), nullable=False)
    kind = Column(String(30), nullable=False)
    order_number = Column(String(20))
    outcome = Column(String(20), nullable=False)
    reference = Column(String(40))
    result = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    completed_at = Column(DateTime)


class ReturnRequest(Base):
    """A return started for a delivered order: its RMA number, reason and progress."""

    __tablename__ = "returns"

    rma = Column(String(20), primary_key=True)
    order_number = Column(String(20), ForeignKey("orders.number", ondelete="CASCADE"), nullable=False, index=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    reason = Column(String(200), nullable=False)
    status = Column(String(20), nullable=False)  # awaiting_parcel, received, refunded
    refund_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Refund(Base):
    """Money going back to a customer for a cancelled order or a received return."""

    __tablename__ = "refunds"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_number = Column(String(20), ForeignKey("orders.number", ondelete="CASCADE"), nullable=False, index=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    amount_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    method = Column(String(20), nullable=False)
    status = Column(String(20), nullable=False)  # pending, issued
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expected_by = Column(Date, nullable=False)
    issued_on = Column(Date)


class ContactChange(Base):
    """A new email address or phone number waiting for the code sent to it (the code stored hashed)."""

    __tablename__ = "contact_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(10), nullable=False)  # email, phone
    new_value = Column(String(320), nullable=False)
    code_hash = Column(String(128), nullable=False)
    tries = Column(Integer, nullable=False, default=0)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class NotificationSetting(Base):
    """Whether a customer wants order updates in their linked chat, and their quiet hours (docs/notifications.md)."""

    __tablename__ = "customer_notification_settings"

    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    order_updates = Column(Boolean, nullable=False, default=False)
    # "HH:MM" local times (both or neither): a notification due in between waits until quiet_end.
    quiet_start = Column(String(5))
    quiet_end = Column(String(5))
    timezone = Column(String(64), nullable=False, default="UTC")  # IANA
    updated_at = Column(DateTime, nullable=False, default=utcnow)


class CustomerNotification(Base):
    """One order update for one customer: recorded once (the unique key), sent through the outbox once.

    ``state``: ``waiting`` (until ``due_at``: quiet hours) -> ``sent`` (the message is stored with
    its outbox row, ``message_id``), or ``dropped`` (the customer opted out before it was due).
    """

    __tablename__ = "customer_notifications"
    __table_args__ = (
        UniqueConstraint("customer_id", "order_number", "event", name="uq_customer_notifications_once"),
        Index("ix_customer_notifications_due", "state", "due_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    order_number = Column(String(20), nullable=False)
    event = Column(String(20), nullable=False)  # shipped, delivered, refund_issued
    # The chat it goes to, chosen when it was recorded (so every replica sends it to the same one).
    conversation_id = Column(String(128), nullable=False)
    channel = Column(String(20), nullable=False)
    address = Column(JSON, nullable=False, default=dict)
    text = Column(Text, nullable=False)
    state = Column(String(12), nullable=False, default="waiting")
    due_at = Column(DateTime, nullable=False)
    message_id = Column(Integer, ForeignKey("messages.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)


class WebFollowUp(Base):
    """A web chat's email address for an agent's answer that comes after the customer left (given with consent)."""

    __tablename__ = "web_follow_ups"

    conversation_id = Column(String(128), ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    email = Column(String(320), nullable=False)
    consented_at = Column(DateTime, nullable=False, default=utcnow)
    # The handoff whose answer was last mailed (one mail per handoff) and when.
    mailed_handoff_id = Column(Integer)
    mailed_at = Column(DateTime)


class AnalyticsEvent(Base):
    """One outcome of a conversation, recorded as it happens (docs/analytics.md).

    ``kind``: ``turn`` (``topic`` the intent, ``value`` its confidence), ``guide_started``,
    ``guide_step``, ``guide_resolved``, ``guide_abandoned``, ``guide_exhausted`` (``topic`` the
    guide, ``attrs.step``), ``csat`` (``value`` 1-5, ``attrs.handled_by`` bot or agent) ...
    No customer text is kept here; a turn points at its message (``attrs.message_id``) only
    when the bot did not understand it, for the training candidates.
    """

    __tablename__ = "analytics_events"
    __table_args__ = (UniqueConstraint("source", name="uq_analytics_events_source"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    kind = Column(String(40), nullable=False, index=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(20), nullable=False, default="unknown")
    customer_id = Column(String(32), index=True)
    topic = Column(String(80))
    value = Column(Float)
    attrs = Column(JSON, nullable=False, default=dict)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    # Where an imported event came from (e.g. "tracker:1234"): importing twice records it once.
    source = Column(String(80))


class ReplicaLease(Base):
    """Work that exactly one gateway replica does at a time (the handoff timers, Telegram polling).

    The holder renews ``until`` while it works; when it dies, another replica takes over once
    ``until`` has passed (bot/db/leases.py).
    """

    __tablename__ = "replica_leases"

    name = Column(String(60), primary_key=True)
    owner = Column(String(120), nullable=False)
    until = Column(DateTime, nullable=False)


class SeenEvent(Base):
    """A platform event some replica already handled (Slack retries one to whichever replica it reaches)."""

    __tablename__ = "seen_events"

    source = Column(String(30), primary_key=True)
    event_id = Column(String(120), primary_key=True)
    seen_at = Column(DateTime, nullable=False, default=utcnow, index=True)
