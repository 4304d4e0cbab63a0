"""Order updates: one notification per change of an order, sent once into the customer's linked chat.

:meth:`OrderNotifications.order_changed` records a change the company's system reported
(:class:`~bot.records.status.StatusChange`) for a customer who opted in and has a linked push
chat: one ``customer_notifications`` row, unique per customer, order and event, so a repeated
report, or two replicas hearing one report, record it once. The row names its chat and its text
and when it is due (now, or when the customer's quiet hours end).

Sending a due row stores its text as a system message of that chat's conversation through
:class:`~bot.conversations.store.ConversationStore`, which writes the message's outbox row in the
same transaction; the outbox worker then sends it at the platform's pace, retries it, or sets it
aside as a dead letter. The message carries the client id ``notify-<row id>``, unique in its
conversation, so storing it again (a crash between storing and marking the row sent, the timer
and a request racing) finds the first copy instead: the customer gets it once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.account.replies import money
from bot.conversations.store import ConversationStore
from bot.core.messages import StoredMessage
from bot.db.engine import session_factory
from bot.db.models import CustomerNotification, NotificationSetting, Sender, utcnow
from bot.notifications.preferences import from_row
from bot.notifications.targets import linked_chat
from bot.notifications.texts import NotificationTexts
from bot.records.status import StatusChange

_LOGGER = logging.getLogger(__name__)

#: What became of a reported change (the API answers it as ``notification.outcome``).
Outcome = Literal["sent", "waiting", "already_recorded", "not_opted_in", "no_linked_chat"]


@dataclass(frozen=True)
class Recorded:
    """What :meth:`OrderNotifications.order_changed` did.

    Attributes:
        outcome: ``sent`` (stored with its outbox row: on its way), ``waiting`` (until ``due_at``,
            the end of the customer's quiet hours), ``already_recorded`` (an earlier report of this
            change recorded it), ``not_opted_in``, ``no_linked_chat``.
        due_at: When it is (or was) due, naive UTC; ``None`` when nothing was recorded.
    """

    outcome: Outcome
    due_at: dt.datetime | None = None


@dataclass(frozen=True)
class _Due:
    id: int
    customer_id: str
    conversation_id: str
    channel: str
    address: dict[str, Any]
    text: str


def message_text(texts: NotificationTexts, change: StatusChange) -> str:
    """The customer-facing text of a change."""
    if change.event == "shipped":
        if change.carrier and change.tracking_number:
            return texts.order_shipped.format(
                order=change.order_number, carrier=change.carrier, tracking=change.tracking_number
            )
        return texts.order_shipped_untracked.format(order=change.order_number)
    if change.event == "delivered":
        return texts.order_delivered.format(order=change.order_number)
    amount = money(change.refund_cents or 0, change.currency)
    return texts.refund_issued.format(order=change.order_number, amount=amount)


class OrderNotifications:
    """Records order updates and sends the due ones into the customers' chats."""

    def __init__(
        self,
        engine: Engine,
        *,
        store: ConversationStore,
        texts: NotificationTexts,
        publish: Callable[[StoredMessage], None] = lambda _message: None,
    ) -> None:
        """Compose it.

        Args:
            engine: The project database (settings, notifications, identities).
            store: Stores the messages (with their outbox rows).
            texts: The wording.
            publish: Told of each message stored (the gateway's hub: open tabs, the outbox worker's wake-up).
        """
        self._sessions = session_factory(engine)
        self._store = store
        self._texts = texts
        self._publish = publish

    async def order_changed(self, change: StatusChange, now: dt.datetime | None = None) -> Recorded:
        """Record the change's notification once and send it if it is due (``now``: naive UTC, default the clock)."""
        moment = now or utcnow()
        recorded, due = await asyncio.to_thread(self._record, change, moment)
        if due is None or recorded.outcome != "waiting" or recorded.due_at is None or recorded.due_at > moment:
            return recorded
        try:
            await self._send(due, moment)
        except SQLAlchemyError as exc:  # recorded: the timer sends it on its next round
            _LOGGER.warning("notifications.send_deferred id=%d error=%s", due.id, type(exc).__name__)
            return recorded
        return Recorded("sent", recorded.due_at)

    def _record(self, change: StatusChange, now: dt.datetime) -> tuple[Recorded, _Due | None]:
        with self._sessions.begin() as session:
            preferences = from_row(change.customer_id, session.get(NotificationSetting, change.customer_id))
            if not preferences.order_updates:
                _LOGGER.info("notifications.not_opted_in event=%s", change.event)
                return Recorded("not_opted_in"), None
            chat = linked_chat(session, change.customer_id)
            if chat is None:
                _LOGGER.info("notifications.no_linked_chat event=%s", change.event)
                return Recorded("no_linked_chat"), None
        due_at = preferences.due_at(now)
        text = message_text(self._texts, change)
        values = {
            "customer_id": change.customer_id,
            "order_number": change.order_number,
            "event": change.event,
            "conversation_id": chat.conversation_id,
            "channel": chat.channel,
            "address": chat.address,
            "text": text,
            "state": "waiting",
            "due_at": due_at,
            "created_at": now,
        }
        try:
            with self._sessions.begin() as session:
                row_id = int(session.execute(insert(CustomerNotification).values(**values)).inserted_primary_key[0])
        except IntegrityError:
            with self._sessions() as session:
                earlier = session.execute(
                    select(CustomerNotification.due_at).where(
                        CustomerNotification.customer_id == change.customer_id,
                        CustomerNotification.order_number == change.order_number,
                        CustomerNotification.event == change.event,
                    )
                ).scalar_one_or_none()
            if earlier is None:
                raise
            _LOGGER.info("notifications.already_recorded event=%s", change.event)
            return Recorded("already_recorded", earlier), None
        _LOGGER.info(
            "notifications.recorded id=%d event=%s channel=%s delayed_s=%d",
            row_id,
            change.event,
            chat.channel,
            (due_at - now).total_seconds(),
        )
        due = _Due(row_id, change.customer_id, chat.conversation_id, chat.channel, chat.address, text)
        return Recorded("waiting", due_at), due

    async def send_due(self, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
        """Send the notifications due at ``now`` (naive UTC); the ids sent (or dropped: opted out meanwhile)."""
        moment = now or utcnow()
        due = await asyncio.to_thread(self._due, moment, limit)
        done = []
        for item in due:
            await self._send(item, moment)
            done.append(item.id)
        return done

    def _due(self, now: dt.datetime, limit: int) -> list[_Due]:
        with self._sessions() as session:
            rows = session.execute(
                select(CustomerNotification)
                .where(CustomerNotification.state == "waiting", CustomerNotification.due_at <= now)
                .order_by(CustomerNotification.due_at, CustomerNotification.id)
                .limit(limit)
            ).scalars()
            return [
                _Due(row.id, row.customer_id, row.conversation_id, row.channel, dict(row.address or {}), row.text)
                for row in rows
            ]

    async def _send(self, item: _Due, now: dt.datetime) -> None:
        """Store the notification in its chat (with its outbox row) once, then mark it sent."""
        if not await asyncio.to_thread(self._still_wanted, item.customer_id):
            await asyncio.to_thread(self._mark, item.id, "dropped", None, now)
            _LOGGER.info("notifications.dropped id=%d reason=opted_out", item.id)
            return
        await self._store.ensure(item.conversation_id, item.channel, item.customer_id, item.address)
        stored, new = await self._store.append(
            item.conversation_id, Sender.SYSTEM, item.text, client_id=f"notify-{item.id}"
        )
        await asyncio.to_thread(self._mark, item.id, "sent", stored.cursor, now)
        if new:
            self._publish(stored)
            _LOGGER.info("notifications.sent id=%d channel=%s", item.id, item.channel)

    def _still_wanted(self, customer_id: str) -> bool:
        with self._sessions() as session:
            return from_row(customer_id, session.get(NotificationSetting, customer_id)).order_updates

    def _mark(self, row_id: int, state: str, message_id: int | None, now: dt.datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(CustomerNotification)
                .where(CustomerNotification.id == row_id, CustomerNotification.state == "waiting")
                .values(state=state, message_id=message_id, sent_at=now if state == "sent" else None)
                .execution_options(synchronize_session=False)
            )
