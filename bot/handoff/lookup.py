"""What agents look up: one customer across channels, conversation search, queue positions.

Everything is read from the gateway's database (conversations, messages, handoffs and the
customer records of the SQL backend), so it needs no Rasa and no records API round trip.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import (
    Conversation,
    Customer,
    Device,
    Handoff,
    HandoffStatus,
    Message,
    Order,
    Product,
    utcnow,
)

#: How far back the customer view looks.
VIEW_DAYS = 30
#: Claims per queue that the wait estimate is taken from (and the fewest it believes).
WAIT_SAMPLE, WAIT_MIN_SAMPLE = 20, 3
SEARCH_LIMIT = 50


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc).isoformat()
    return value.isoformat()


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


@dataclass(frozen=True)
class ConversationQuery:
    """Conversation search filters (all optional; at least one is given)."""

    customer: str | None = None
    order: str | None = None
    channel: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    text: str | None = None

    def empty(self) -> bool:
        """Whether no filter is set."""
        return not any((self.customer, self.order, self.channel, self.since, self.until, self.text))


def _outcome(handoffs: Sequence[Handoff]) -> str:
    if not handoffs:
        return "bot"
    latest = handoffs[-1]
    if latest.status != HandoffStatus.RESOLVED:
        return "waiting for an agent" if latest.status == HandoffStatus.OPEN else "with an agent"
    return {"handed_back": "handed back to the bot", "silent": "closed (customer silent)"}.get(
        str(latest.closed_how or ""), "resolved by an agent"
    )


class HandoffLookup:
    """Read-only queries for the agent desks (SQL in a thread)."""

    def __init__(self, engine: Engine) -> None:
        """Query ``engine``'s database."""
        self._sessions = session_factory(engine)

    # -- one customer ------------------------------------------------------------------

    async def customer_view(self, customer_id: str, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """A verified customer on every channel: 30 days of conversations, open requests, orders, devices."""
        return await asyncio.to_thread(self._customer_view, customer_id, now or utcnow())

    def _customer_view(self, customer_id: str, now: dt.datetime) -> dict[str, Any] | None:
        since = now - dt.timedelta(days=VIEW_DAYS)
        with self._sessions() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                return None
            conversations = list(
                session.execute(
                    select(Conversation)
                    .where(Conversation.customer_id == customer_id, Conversation.updated_at >= since)
                    .order_by(Conversation.updated_at.desc())
                    .limit(50)
                ).scalars()
            )
            ids = [c.id for c in conversations]
            handoffs: dict[str, list[Handoff]] = {}
            if ids:
                for handoff in session.execute(
                    select(Handoff).where(Handoff.conversation_id.in_(ids)).order_by(Handoff.id)
                ).scalars():
                    handoffs.setdefault(handoff.conversation_id, []).append(handoff)
            open_requests = [
                {
                    "id": h.id,
                    "conversation_id": h.conversation_id,
                    "status": _status(h.status),
                    "reason": h.reason,
                    "queue": h.queue,
                    "created_at": _iso(h.created_at),
                }
                for hs in handoffs.values()
                for h in hs
                if h.status != HandoffStatus.RESOLVED
            ]
            orders = session.execute(
                select(Order).where(Order.customer_id == customer_id).order_by(Order.placed_at.desc()).limit(10)
            ).scalars()
            devices = session.execute(
                select(Device, Product.name)
                .join(Product, Product.sku == Device.sku)
                .where(Device.customer_id == customer_id)
                .order_by(Device.purchased_on.desc())
            ).all()
            return {
                "customer": {"id": customer.id, "name": customer.name},
                "conversations": [
                    {
                        "id": c.id,
                        "channel": c.channel,
                        "started_at": _iso(c.created_at),
                        "last_at": _iso(c.updated_at),
                        "outcome": _outcome(handoffs.get(c.id, [])),
                        "open": any(h.status != HandoffStatus.RESOLVED for h in handoffs.get(c.id, [])),
                    }
                    for c in conversations
                ],
                "open_requests": sorted(open_requests, key=lambda r: r["id"]),
                "orders": [
                    {"number": o.number, "status": _status(o.status), "placed_at": _iso(o.placed_at)} for o in orders
                ],
                "devices": [
                    {"serial": d.serial, "product": name, "warranty_until": _iso(d.warranty_until)}
                    for d, name in devices
                ],
            }

    async def customer_of(self, conversation_id: str) -> str | None:
        """The verified customer of a conversation."""
        return await asyncio.to_thread(self._customer_of, conversation_id)

    def _customer_of(self, conversation_id: str) -> str | None:
        with self._sessions() as session:
            found = session.execute(
                select(Conversation.customer_id).where(Conversation.id == conversation_id)
            ).scalar_one_or_none()
        return str(found) if found else None

    # -- canned reply values -----------------------------------------------------------

    async def placeholder_values(self, conversation_id: str, packet: Mapping[str, Any]) -> dict[str, str | None]:
        """The customer's name and a product's name for canned replies (the rest comes from the packet)."""
        return await asyncio.to_thread(self._placeholder_values, conversation_id, packet)

    def _placeholder_values(self, conversation_id: str, packet: Mapping[str, Any]) -> dict[str, str | None]:
        with self._sessions() as session:
            name = session.execute(
                select(Customer.name)
                .join(Conversation, Conversation.customer_id == Customer.id)
                .where(Conversation.id == conversation_id)
            ).scalar_one_or_none()
            told = packet.get("known") if isinstance(packet.get("known"), Mapping) else {}
            sku = told.get("product") if told else None
            product = session.get(Product, sku) if isinstance(sku, str) and sku else None
        return {"customer_name": name, "product_name": product.name if product is not None else None}

    # -- search ------------------------------------------------------------------------

    async def search(self, query: ConversationQuery) -> list[dict[str, Any]]:
        """Conversations matching every given filter, latest first (at most :data:`SEARCH_LIMIT`)."""
        return await asyncio.to_thread(self._search, query)

    def _search(self, query: ConversationQuery) -> list[dict[str, Any]]:
        statement = (
            select(Conversation, Customer.name)
            .outerjoin(Customer, Customer.id == Conversation.customer_id)
            .order_by(Conversation.updated_at.desc())
            .limit(SEARCH_LIMIT)
        )
        conditions = []
        if query.customer:
            term = query.customer.strip()
            conditions.append(
                or_(
                    Conversation.customer_id == term,
                    func.lower(Customer.name).contains(term.lower(), autoescape=True),
                    func.lower(Customer.email) == term.lower(),
                )
            )
        if query.order:
            number = query.order.strip().upper()
            owner = select(Order.customer_id).where(Order.number == number).scalar_subquery()
            mentioned = select(Message.conversation_id).where(Message.text.contains(number, autoescape=True))
            conditions.append(or_(Conversation.customer_id == owner, Conversation.id.in_(mentioned)))
        if query.channel:
            conditions.append(Conversation.channel == query.channel)
        if query.since:
            conditions.append(Conversation.updated_at >= dt.datetime.combine(query.since, dt.time()))
        if query.until:
            conditions.append(Conversation.created_at < dt.datetime.combine(query.until, dt.time()) + dt.timedelta(1))
        if query.text:
            said = select(Message.conversation_id).where(
                func.lower(Message.text).contains(query.text.strip().lower(), autoescape=True)
            )
            conditions.append(Conversation.id.in_(said))
        if conditions:
            statement = statement.where(and_(*conditions))
        with self._sessions() as session:
            rows = session.execute(statement).all()
            ids = [c.id for c, _ in rows]
            handoffs: dict[str, list[int]] = {}
            snippets: dict[str, str] = {}
            if ids:
                for handoff_id, conversation_id in session.execute(
                    select(Handoff.id, Handoff.conversation_id).where(Handoff.conversation_id.in_(ids))
                ):
                    handoffs.setdefault(conversation_id, []).append(handoff_id)
                needle = (query.text or "").strip().lower()
                messages = select(Message.conversation_id, Message.text).where(
                    Message.conversation_id.in_(ids), Message.sender == "customer"
                )
                if needle:
                    messages = messages.where(func.lower(Message.text).contains(needle, autoescape=True))
                for conversation_id, text in session.execute(messages.order_by(Message.id.desc())):
                    snippets.setdefault(conversation_id, text[:160])
        return [
            {
                "id": c.id,
                "channel": c.channel,
                "customer_id": c.customer_id,
                "customer_name": name,
                "started_at": _iso(c.created_at),
                "last_at": _iso(c.updated_at),
                "handoff_ids": sorted(handoffs.get(c.id, [])),
                "snippet": snippets.get(c.id),
            }
            for c, name in rows
        ]

    # -- queues ------------------------------------------------------------------------

    def queue_figures(self, online_by_queue: Mapping[str, int]) -> dict[int, tuple[int, int | None]]:
        """For every open handoff: its place in its own queue and an estimate of the wait in seconds.

        The estimate is the median time to claim of the queue's last :data:`WAIT_SAMPLE` claims
        in the past week, for each round of the queue's online agents ahead; ``None`` when the
        queue has fewer than :data:`WAIT_MIN_SAMPLE` such claims (no honest figure to give).
        """
        week = utcnow() - dt.timedelta(days=7)
        with self._sessions() as session:
            waiting = session.execute(
                select(Handoff.id, Handoff.queue).where(Handoff.status == HandoffStatus.OPEN).order_by(Handoff.id)
            ).all()
            medians: dict[str, float | None] = {}
            for queue in {q for _, q in waiting}:
                claims = session.execute(
                    select(Handoff.created_at, Handoff.claimed_at)
                    .where(Handoff.queue == queue, Handoff.claimed_at.is_not(None), Handoff.created_at >= week)
                    .order_by(Handoff.claimed_at.desc())
                    .limit(WAIT_SAMPLE)
                ).all()
                waits = [(claimed - created).total_seconds() for created, claimed in claims]
                medians[queue] = statistics.median(waits) if len(waits) >= WAIT_MIN_SAMPLE else None
        figures: dict[int, tuple[int, int | None]] = {}
        places: dict[str, int] = {}
        for handoff_id, queue in waiting:
            places[queue] = places.get(queue, 0) + 1
            median = medians.get(queue)
            rounds = math.ceil(places[queue] / max(1, online_by_queue.get(queue, 0)))
            figures[handoff_id] = (places[queue], round(median * rounds) if median is not None else None)
        return figures
