"""Privacy requests: export everything held about a customer, erase what the bot holds.

Export gathers the company's records (customer, orders, devices, subscriptions,
invoices), the bot's own data (channel identities, conversations with their messages
and handoffs), the record-access audit and the dialogue tracker's events of the
customer's conversations.

Erasure removes what the bot collected while talking to the customer: conversations,
messages, handoffs, channel identities, link codes and wrong-code tries of those
identities, and the tracker events. The company's own records (the customer, orders,
devices, subscriptions, invoices) stay: they belong to the customer-record system and
its retention rules. The record-access audit stays too: it holds no contents and is
the proof of who looked at what.

Rasa's SQL tracker store keeps its events in a table ``events`` (``sender_id`` is the
conversation id). The tracker database is read only when it exists; a missing file or
table is skipped and reported, never created.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, create_engine, delete, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.pool import NullPool

from bot.db.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    DeepLink,
    Device,
    Handoff,
    InboxItem,
    Invoice,
    LinkCode,
    LinkFailure,
    Message,
    Order,
    OrderItem,
    OutboxItem,
    RecordAccess,
    Subscription,
)
from bot.settings import Paths

_LOGGER = logging.getLogger(__name__)

TRACKER_TABLE = "events"


class UnknownCustomer(LookupError):
    """No customer with that id is on file."""


def tracker_db_url(paths: Paths) -> str:
    """URL of Rasa's tracker store database, as ``endpoints.yml`` configures it (SQLite file)."""
    return f"sqlite:///{paths.tracker_db}"


def export_customer(engine: Engine, customer_id: str, tracker_db_url: str | None) -> dict[str, Any]:
    """Everything held about one customer, as JSON-ready data.

    Args:
        engine: The bot's database.
        customer_id: The customer's id.
        tracker_db_url: Rasa's tracker store database; None to leave the tracker out.

    Returns:
        A mapping with the sections ``customer``, ``channel_identities``, ``orders`` (each
        with ``items``), ``devices``, ``subscriptions``, ``invoices``, ``conversations``
        (each with ``messages`` and ``handoffs``), ``record_access``, ``tracker_events``
        and ``tracker_store`` (``read``, ``missing`` or ``not_configured``).

    Raises:
        UnknownCustomer: no customer with that id.
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
        }
    status, events = _tracker_events(tracker_db_url, conversation_ids)
    export["tracker_events"] = events
    export["tracker_store"] = status
    _LOGGER.info("privacy.exported conversations=%d tracker=%s", len(conversation_ids), status)
    return export


def erase_customer(engine: Engine, customer_id: str, tracker_db_url: str | None) -> dict[str, int]:
    """Delete what the bot holds about one customer; keep the company's records and the audit.

    The tracker events go first: if the bot database then fails, running the erasure
    again finds the same conversations and finishes the job.

    Args:
        engine: The bot's database.
        customer_id: The customer's id.
        tracker_db_url: Rasa's tracker store database; None to leave the tracker alone.

    Returns:
        Rows deleted per kind: ``conversations``, ``messages``, ``handoffs``, ``channel_inbox``, ``channel_outbox``,
        ``channel_identities``, ``link_codes``, ``link_failures``, ``tracker_events``.

    Raises:
        UnknownCustomer: no customer with that id.
    """
    with engine.connect() as connection:
        if connection.execute(select(Customer.id).where(Customer.id == customer_id)).first() is None:
            raise UnknownCustomer(customer_id)
        conversation_ids = list(
            connection.execute(select(Conversation.id).where(Conversation.customer_id == customer_id)).scalars()
        )
    counts = {"tracker_events": _delete_tracker_events(tracker_db_url, conversation_ids)}
    with engine.begin() as connection:
        identities = connection.execute(
            select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
                ChannelIdentity.customer_id == customer_id
            )
        ).all()
        counts["handoffs"] = _delete(connection, delete(Handoff).where(Handoff.conversation_id.in_(conversation_ids)))
        # Platform events and deliveries hold message texts too.
        counts["channel_inbox"] = _delete(
            connection, delete(InboxItem).where(InboxItem.conversation_id.in_(conversation_ids))
        )
        counts["channel_outbox"] = _delete(
            connection, delete(OutboxItem).where(OutboxItem.conversation_id.in_(conversation_ids))
        )
        _delete(connection, delete(DeepLink).where(DeepLink.customer_id == customer_id))
        counts["messages"] = _delete(connection, delete(Message).where(Message.conversation_id.in_(conversation_ids)))
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
    _LOGGER.info("privacy.erased %s", " ".join(f"{kind}={count}" for kind, count in sorted(counts.items())))
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


@contextmanager
def _tracker(url: str | None) -> Iterator[Engine | None]:
    """An engine on the tracker database, or None when it is not configured or does not exist."""
    if not url:
        yield None
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            yield None  # never create an empty tracker file by connecting to it
            return
    engine = create_engine(url, poolclass=NullPool, future=True)
    try:
        yield engine if inspect(engine).has_table(TRACKER_TABLE) else None
    finally:
        engine.dispose()


def _tracker_events(url: str | None, conversation_ids: Sequence[str]) -> tuple[str, list[dict[str, Any]]]:
    if not url:
        return "not_configured", []
    with _tracker(url) as engine:
        if engine is None:
            return "missing", []
        if not conversation_ids:
            return "read", []
        query = text(
            f"SELECT sender_id, type_name, timestamp, data FROM {TRACKER_TABLE} "  # noqa: S608 (constant table name)
            "WHERE sender_id IN :ids ORDER BY sender_id, timestamp"
        ).bindparams(bindparam("ids", expanding=True))
        with engine.connect() as connection:
            rows = connection.execute(query, {"ids": list(conversation_ids)}).mappings().all()
    return "read", [
        {
            "sender_id": row["sender_id"],
            "type_name": row["type_name"],
            "timestamp": row["timestamp"],
            "data": _json_or_text(row["data"]),
        }
        for row in rows
    ]


def _json_or_text(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _delete_tracker_events(url: str | None, conversation_ids: Sequence[str]) -> int:
    if not conversation_ids:
        return 0
    with _tracker(url) as engine:
        if engine is None:
            return 0
        query = text(f"DELETE FROM {TRACKER_TABLE} WHERE sender_id IN :ids").bindparams(  # noqa: S608
            bindparam("ids", expanding=True)
        )
        with engine.begin() as connection:
            return int(connection.execute(query, {"ids": list(conversation_ids)}).rowcount or 0)
