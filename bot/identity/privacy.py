"""Privacy requests: export everything held about a customer, erase every copy the bot made.

Export gathers the company's records (customer, orders, devices, subscriptions,
invoices), the bot's own data (channel identities, conversations with their messages
and handoffs), the record-access audit and the dialogue tracker's events of the
customer's conversations.

Erasure removes what the bot collected while talking to the customer: conversations,
messages, handoffs, platform inbox and outbox rows, channel identities, link codes and
wrong-code tries of those identities, guides left paused, the tracker events, and the copies kept outside the
database (:class:`CustomerCopies`: the Slack desk's posts, development mails). The
company's own records (the customer, orders, devices, subscriptions, invoices) stay: they
belong to the customer-record system and its retention rules. The record-access audit
stays too: it holds no contents and is the proof of who looked at what.

The tracker events are read and deleted through :mod:`bot.identity.tracker_store` (SQLite or
PostgreSQL, named by the setting ``BOT_TRACKER_URL``); a store that cannot be reached stops
the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Table, delete, select, update
from sqlalchemy.engine import Connection, Engine

from bot.db.models import (
    ChannelIdentity,
    ContactChange,
    Conversation,
    Customer,
    CustomerGuide,
    CustomerNotification,
    DeepLink,
    Device,
    Handoff,
    HelpAnswer,
    InboxItem,
    Invoice,
    LinkCode,
    LinkFailure,
    Message,
    NotificationSetting,
    Order,
    OrderItem,
    OutboxItem,
    RecordAccess,
    Refund,
    ReturnRequest,
    ServiceRequest,
    SlackDeskPost,
    Subscription,
    WebFollowUp,
    utcnow,
)
from bot.identity.mailer import delete_maildir_mails
from bot.identity.tracker_store import (
    TrackerStoreUnavailable,
    check_tracker_store,
    delete_tracker_events,
    tracker_events,
)

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "ConversationLock",
    "CopiesNotErased",
    "CustomerCopies",
    "ErasureSubject",
    "MailFolderCopies",
    "TrackerStoreUnavailable",
    "UnknownCustomer",
    "erase_customer",
    "export_customer",
]


class UnknownCustomer(LookupError):
    """No customer with that id is on file."""


class CopiesNotErased(RuntimeError):
    """Copies of the customer's data outside the database could not all be erased.

    Raised before the database rows are erased, so running the erasure again finds the same
    conversations and finishes the job; what the message says was erased is gone for good.
    """


@dataclass(frozen=True)
class ErasureSubject:
    """Who is erased, and what of theirs the bot's database points to."""

    customer_id: str
    email: str
    conversation_ids: tuple[str, ...]
    handoff_ids: tuple[int, ...]


class CustomerCopies(Protocol):
    """Copies of a customer's conversations kept outside the bot's database (a desk's posts, mails).

    :func:`erase_customer` runs each before it deletes the database rows that lead to them.
    """

    async def erase(self, subject: ErasureSubject) -> dict[str, int]:
        """Erase the subject's copies; how many were erased, per kind.

        Raises:
            CopiesNotErased: some could not be erased (the message says which, and why).
        """


class ConversationLock(Protocol):
    """Hook for the turn pipeline: no customer turn may run in a conversation while it is erased.

    Not implemented here (a lock the turn pipeline takes per conversation); :func:`erase_customer`
    holds it, when given, from before the first copy is erased until the last row is deleted.
    """

    def hold(self, conversation_ids: Sequence[str]) -> AbstractAsyncContextManager[None]:
        """Keep turns out of these conversations while the context is open."""


class MailFolderCopies:
    """The development mail folder (``var/mail/``): the mails sent to the customer's address."""

    def __init__(self, folder: Path) -> None:
        """Clean ``folder`` (a missing folder holds nothing)."""
        self._folder = folder

    async def erase(self, subject: ErasureSubject) -> dict[str, int]:
        """Delete the ``.eml`` files addressed to the customer's email on file."""
        try:
            deleted = await asyncio.to_thread(delete_maildir_mails, self._folder, subject.email)
        except OSError as exc:
            failure = type(exc).__name__
            raise CopiesNotErased(f"the mail folder {self._folder} could not be cleaned ({failure})") from exc
        return {"mails": deleted}


def export_customer(engine: Engine, customer_id: str, tracker_url: str | None) -> dict[str, Any]:
    """Everything held about one customer, as JSON-ready data.

    Args:
        engine: The bot's database.
        customer_id: The customer's id.
        tracker_url: SQLAlchemy URL of Rasa's tracker store; None to leave the tracker out.

    Returns:
        A mapping with the sections ``customer``, ``channel_identities``, ``orders`` (each
        with ``items``), ``devices``, ``subscriptions``, ``invoices``, ``conversations``
        (each with ``messages`` and ``handoffs``), ``record_access``, ``paused_guides``, ``tracker_events``
        (``sender_id``, ``type_name``, ``timestamp``, ``intent_name``, ``action_name``,
        ``data``) and ``tracker_store`` (``read``, ``missing`` or ``not_configured``).

    Raises:
        UnknownCustomer: no customer with that id.
        TrackerStoreUnavailable: the tracker store's database cannot be reached.
    """
    with engine.connect() as connection:
        customer = _rows(connection, _table(Customer), _table(Customer).c.id == customer_id)
        if not customer:
            raise UnknownCustomer(customer_id)
        orders = _rows(connection, _table(Order), _table(Order).c.customer_id == customer_id, "number")
        items = _rows(
            connection,
            _table(OrderItem),
            _table(OrderItem).c.order_number.in_([order["number"] for order in orders]),
            "id",
        )
        for order in orders:
            order["items"] = [item for item in items if item["order_number"] == order["number"]]
        conversations = _rows(
            connection, _table(Conversation), _table(Conversation).c.customer_id == customer_id, "created_at"
        )
        conversation_ids = [conversation["id"] for conversation in conversations]
        messages = _rows(connection, _table(Message), _table(Message).c.conversation_id.in_(conversation_ids), "id")
        handoffs = _rows(connection, _table(Handoff), _table(Handoff).c.conversation_id.in_(conversation_ids), "id")
        for conversation in conversations:
            conversation["messages"] = [m for m in messages if m["conversation_id"] == conversation["id"]]
            conversation["handoffs"] = [h for h in handoffs if h["conversation_id"] == conversation["id"]]
        export: dict[str, Any] = {
            "customer": customer[0],
            "channel_identities": _rows(
                connection, _table(ChannelIdentity), _table(ChannelIdentity).c.customer_id == customer_id, "id"
            ),
            "orders": orders,
            "devices": _rows(connection, _table(Device), _table(Device).c.customer_id == customer_id, "serial"),
            "subscriptions": _rows(
                connection, _table(Subscription), _table(Subscription).c.customer_id == customer_id, "id"
            ),
            "invoices": _rows(connection, _table(Invoice), _table(Invoice).c.customer_id == customer_id, "number"),
            "conversations": conversations,
            "record_access": _rows(
                connection, _table(RecordAccess), _table(RecordAccess).c.customer_id == customer_id, "id"
            ),
            "service_requests": _rows(
                connection, _table(ServiceRequest), _table(ServiceRequest).c.customer_id == customer_id, "id"
            ),
            "returns": _rows(
                connection, _table(ReturnRequest), _table(ReturnRequest).c.customer_id == customer_id, "created_at"
            ),
            "refunds": _rows(connection, _table(Refund), _table(Refund).c.customer_id == customer_id, "id"),
            "paused_guides": _rows(
                connection, _table(CustomerGuide), _table(CustomerGuide).c.customer_id == customer_id, "paused_at"
            ),
            # Order updates: what they opted into, and each update recorded for them (docs/notifications.md).
            "notification_settings": _rows(
                connection, _table(NotificationSetting), _table(NotificationSetting).c.customer_id == customer_id
            ),
            "notifications": _rows(
                connection,
                _table(CustomerNotification),
                _table(CustomerNotification).c.customer_id == customer_id,
                "id",
            ),
        }
    status, events = tracker_events(tracker_url, conversation_ids)
    export["tracker_events"] = events
    export["tracker_store"] = status
    _LOGGER.info("privacy.exported conversations=%d tracker=%s", len(conversation_ids), status)
    return export


async def erase_customer(
    engine: Engine,
    customer_id: str,
    tracker_url: str | None,
    *,
    copies: Sequence[CustomerCopies] = (),
    lock: ConversationLock | None = None,
) -> dict[str, int]:
    """Delete what the bot holds about one customer; keep the company's records and the audit.

    The order makes a failed erasure safe to run again: the tracker store is checked first
    (an unreachable one stops everything), then ``copies`` are erased outside the database,
    then the tracker events, and the database rows last, since they lead to everything else.

    Args:
        engine: The bot's database.
        customer_id: The customer's id.
        tracker_url: SQLAlchemy URL of Rasa's tracker store; None to leave the tracker alone.
        copies: Copies outside the database (the Slack desk's posts, development mails), in order.
        lock: Keeps customer turns out of the conversations meanwhile (see :class:`ConversationLock`).

    Returns:
        How many were erased per kind: ``conversations``, ``messages``, ``handoffs``,
        ``channel_inbox``, ``channel_outbox``, ``channel_identities``, ``link_codes``,
        ``link_failures``, ``paused_guides``, ``tracker_events``, and the kinds of ``copies`` (``slack_messages``,
        ``slack_threads``, ``mails``).

    Raises:
        UnknownCustomer: no customer with that id.
        TrackerStoreUnavailable: the tracker store cannot be reached.
        CopiesNotErased: a copy outside the database could not be erased; the database is untouched.
    """
    subject = await asyncio.to_thread(_subject, engine, customer_id)
    await asyncio.to_thread(check_tracker_store, tracker_url, "nothing was erased")
    held = lock.hold(subject.conversation_ids) if lock is not None else contextlib.nullcontext()
    async with held:
        counts: dict[str, int] = {}
        for kept in copies:
            counts.update(await kept.erase(subject))
        counts["tracker_events"] = await asyncio.to_thread(delete_tracker_events, tracker_url, subject.conversation_ids)
        counts.update(await asyncio.to_thread(_erase_rows, engine, subject))
    _LOGGER.info("privacy.erased %s", " ".join(f"{kind}={count}" for kind, count in sorted(counts.items())))
    return counts


def _subject(engine: Engine, customer_id: str) -> ErasureSubject:
    with engine.connect() as connection:
        email = connection.execute(select(Customer.email).where(Customer.id == customer_id)).scalar_one_or_none()
        if email is None:
            raise UnknownCustomer(customer_id)
        conversation_ids = tuple(
            connection.execute(
                select(Conversation.id).where(Conversation.customer_id == customer_id).order_by(Conversation.id)
            ).scalars()
        )
        handoff_ids = tuple(
            connection.execute(
                select(Handoff.id).where(Handoff.conversation_id.in_(conversation_ids)).order_by(Handoff.id)
            ).scalars()
        )
    return ErasureSubject(customer_id, str(email), conversation_ids, handoff_ids)


def _erase_rows(engine: Engine, subject: ErasureSubject) -> dict[str, int]:
    customer_id, conversation_ids = subject.customer_id, list(subject.conversation_ids)
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        identities = connection.execute(
            select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
                ChannelIdentity.customer_id == customer_id
            )
        ).all()
        # The desk's records of its Slack posts (the posts themselves went with the copies).
        _delete(connection, delete(SlackDeskPost).where(SlackDeskPost.handoff_id.in_(subject.handoff_ids)))
        counts["handoffs"] = _delete(connection, delete(Handoff).where(Handoff.conversation_id.in_(conversation_ids)))
        # Platform events and deliveries hold message texts too.
        counts["channel_inbox"] = _delete(
            connection, delete(InboxItem).where(InboxItem.conversation_id.in_(conversation_ids))
        )
        counts["channel_outbox"] = _delete(
            connection, delete(OutboxItem).where(OutboxItem.conversation_id.in_(conversation_ids))
        )
        _delete(connection, delete(DeepLink).where(DeepLink.customer_id == customer_id))
        # Order updates hold message texts; the settings say what the person wanted; a web chat's follow-up address.
        counts["notifications"] = _delete(
            connection, delete(CustomerNotification).where(CustomerNotification.customer_id == customer_id)
        )
        _delete(connection, delete(NotificationSetting).where(NotificationSetting.customer_id == customer_id))
        _delete(connection, delete(WebFollowUp).where(WebFollowUp.conversation_id.in_(conversation_ids)))
        counts["messages"] = _delete(connection, delete(Message).where(Message.conversation_id.in_(conversation_ids)))
        # Which help articles they read and whether those helped: about the person, so it goes too.
        counts["help_answers"] = _delete(
            connection, delete(HelpAnswer).where(HelpAnswer.conversation_id.in_(conversation_ids))
        )
        counts["conversations"] = _delete(connection, delete(Conversation).where(Conversation.id.in_(conversation_ids)))
        link_codes = _delete(connection, delete(LinkCode).where(LinkCode.customer_id == customer_id))
        link_failures = 0
        for channel, external_id in identities:
            link_codes += _delete(
                connection, delete(LinkCode).where(LinkCode.channel == channel, LinkCode.external_id == external_id)
            )
            link_failures += _delete(
                connection,
                delete(LinkFailure).where(LinkFailure.channel == channel, LinkFailure.external_id == external_id),
            )
        counts["link_codes"] = link_codes
        counts["link_failures"] = link_failures
        counts["channel_identities"] = _delete(
            connection, delete(ChannelIdentity).where(ChannelIdentity.customer_id == customer_id)
        )
        # Troubleshooting guides left paused (which problems they had, on which device).
        counts["paused_guides"] = _delete(
            connection, delete(CustomerGuide).where(CustomerGuide.customer_id == customer_id)
        )
        # New email addresses or phone numbers waiting for their code.
        counts["contact_changes"] = _delete(
            connection, delete(ContactChange).where(ContactChange.customer_id == customer_id)
        )
        # The account deletion the customer asked for in the chat is now done.
        counts["deletion_requests_completed"] = connection.execute(
            update(ServiceRequest)
            .where(
                ServiceRequest.customer_id == customer_id,
                ServiceRequest.kind == "account_deletion",
                ServiceRequest.outcome == "pending",
            )
            .values(outcome="done", completed_at=utcnow())
        ).rowcount
    return counts


# -- helpers ---------------------------------------------------------------------------------


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _rows(connection: Connection, table: Table, where: Any, order_by: str | None = None) -> list[dict[str, Any]]:
    query = select(table).where(where)
    if order_by is not None:
        query = query.order_by(table.c[order_by])
    return [{key: _jsonable(value) for key, value in row.items()} for row in connection.execute(query).mappings()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _delete(connection: Connection, statement: Any) -> int:
    return int(connection.execute(statement).rowcount or 0)
