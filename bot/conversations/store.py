"""Durable conversation storage: every customer, bot, agent and system message."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.core.address import chat_key
from bot.core.messages import Button, HandoffRef, StoredMessage
from bot.db.engine import session_factory
from bot.db.models import Conversation, Handoff, HandoffStatus, InboxItem, Message, OutboxItem, Sender, utcnow


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation's identity and where it lives (``address``: where a push channel delivers)."""

    id: str
    channel: str
    customer_id: str | None
    address: dict[str, Any] | None = None


@dataclass(frozen=True)
class InboxMark:
    """Move an inbox item to ``state`` in the same transaction as the messages stored with it.

    A finished turn (``done``, ``ignored``) also records its result: the customer message's
    cursor and the cursors of the replies stored with the mark, so a retried request can be
    answered with exactly what the first one got.
    """

    item_id: int
    state: str
    customer: int | None = None


def stored_message(row: Message) -> StoredMessage:
    """A message row as the public :class:`StoredMessage`."""
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in (row.buttons or [])
        if isinstance(b, dict)
    )
    return StoredMessage(
        cursor=row.id,
        conversation_id=row.conversation_id,
        sender=row.sender.value if isinstance(row.sender, Sender) else str(row.sender),
        text=row.text,
        buttons=buttons,
        client_id=row.client_id,
        created_at=row.created_at,
    )


class ConversationStore:
    """Reads and writes conversations through SQLAlchemy, off the event loop."""

    def __init__(self, engine: Engine) -> None:
        """Create a store on ``engine`` (SQLite or PostgreSQL)."""
        self._sessions = session_factory(engine)

    async def get(self, conversation_id: str) -> ConversationInfo | None:
        """Return the conversation, or None when it does not exist."""
        return await asyncio.to_thread(self._get, conversation_id)

    def _get(self, conversation_id: str) -> ConversationInfo | None:
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            if row is None:
                return None
            address = row.address if isinstance(row.address, dict) else None
            return ConversationInfo(id=row.id, channel=row.channel, customer_id=row.customer_id, address=address)

    async def ensure(
        self,
        conversation_id: str,
        channel: str,
        customer_id: str | None = None,
        address: dict[str, Any] | None = None,
    ) -> ConversationInfo:
        """Return the conversation, creating it on ``channel`` when it is new.

        ``address`` (a push channel's chat, see :mod:`bot.core.address`) makes every later
        bot, agent and system message of the conversation go through the outbox.
        """
        return await asyncio.to_thread(self._ensure, conversation_id, channel, customer_id, address)

    def _ensure(
        self, conversation_id: str, channel: str, customer_id: str | None, address: dict[str, Any] | None
    ) -> ConversationInfo:
        existing = self._get(conversation_id)
        if existing is not None:
            return existing
        try:
            with self._sessions.begin() as session:
                session.add(Conversation(id=conversation_id, channel=channel, customer_id=customer_id, address=address))
        except IntegrityError:
            pass  # created concurrently by another request: read it back below
        info = self._get(conversation_id)
        assert info is not None
        return info

    async def attach_customer(self, conversation_id: str, customer_id: str) -> None:
        """Record the verified customer of a conversation (so agents see one customer across chats)."""
        await asyncio.to_thread(self._attach_customer, conversation_id, customer_id)

    def _attach_customer(self, conversation_id: str, customer_id: str) -> None:
        with self._sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None and conversation.customer_id != customer_id:
                conversation.customer_id = customer_id

    async def start_web_chat(self, conversation_id: str) -> str:
        """Create a web conversation and return the secret that resumes it (stored only as a hash).

        The widget keeps the secret and sends it in every later ``hello``; without it (or a
        customer token of the conversation's verified customer) the chat cannot be resumed.
        """
        secret = secrets.token_urlsafe(32)

        def create() -> None:
            with self._sessions.begin() as session:
                session.add(Conversation(id=conversation_id, channel="web", resume_secret_hash=_digest(secret)))

        await asyncio.to_thread(create)
        return secret

    async def may_resume(self, conversation_id: str, secret: str | None, customer_id: str | None) -> bool:
        """Whether a web chat may be resumed with ``secret`` or by the verified ``customer_id``."""

        def check() -> bool:
            with self._sessions() as session:
                row = session.get(Conversation, conversation_id)
                if row is None or row.channel != "web":
                    return False
                if customer_id is not None and row.customer_id == customer_id:
                    return True
                stored = row.resume_secret_hash
                return bool(secret and stored and hmac.compare_digest(_digest(secret), stored))

        return await asyncio.to_thread(check)

    async def append(
        self,
        conversation_id: str,
        sender: Sender,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        payload: str | None = None,
        client_id: str | None = None,
        inbox: InboxMark | None = None,
    ) -> tuple[StoredMessage, bool]:
        """Store a message; returns it and whether it is new.

        A customer message carrying a ``client_id`` already stored in this conversation is
        not stored twice: the earlier copy is returned with ``False`` (and ``inbox`` is not
        applied). A bot, agent or system message of a conversation with an address is queued
        in the outbox in the same transaction.
        """
        return await asyncio.to_thread(
            self._append, conversation_id, sender, text, tuple(buttons), payload, client_id, inbox
        )

    async def append_replies(
        self,
        conversation_id: str,
        replies: Sequence[tuple[str, Sequence[Button]]],
        sender: Sender = Sender.BOT,
        inbox: InboxMark | None = None,
    ) -> list[StoredMessage]:
        """Store a turn's replies (text, buttons) and the inbox item's new state in one transaction."""
        return await asyncio.to_thread(self._append_replies, conversation_id, list(replies), sender, inbox)

    def _append_replies(
        self,
        conversation_id: str,
        replies: list[tuple[str, Sequence[Button]]],
        sender: Sender,
        inbox: InboxMark | None,
    ) -> list[StoredMessage]:
        with self._sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            stored = [
                self._add(session, conversation, conversation_id, sender, text, tuple(buttons), None, None)
                for text, buttons in replies
            ]
            if inbox is not None:
                _mark_inbox(session, inbox, [message.cursor for message in stored])
            return stored

    @staticmethod
    def _add(
        session: Any,
        conversation: Conversation | None,
        conversation_id: str,
        sender: Sender,
        text: str,
        buttons: tuple[Button, ...],
        payload: str | None,
        client_id: str | None,
    ) -> StoredMessage:
        row = Message(
            conversation_id=conversation_id,
            sender=sender,
            text=text,
            payload=payload,
            buttons=[b.to_json() for b in buttons],
            client_id=client_id,
            created_at=utcnow(),
        )
        session.add(row)
        if conversation is not None:
            conversation.updated_at = row.created_at
        session.flush()
        address = conversation.address if conversation is not None else None
        if isinstance(address, dict) and sender != Sender.CUSTOMER:
            session.add(
                OutboxItem(
                    platform=str(address.get("platform", "")),
                    chat_key=chat_key(address),
                    conversation_id=conversation_id,
                    message_id=row.id,
                    address=address,
                    state="pending",
                    attempts=0,
                    next_attempt_at=row.created_at,
                    created_at=row.created_at,
                )
            )
        return stored_message(row)

    def _find_client_id(self, conversation_id: str, client_id: str) -> StoredMessage | None:
        with self._sessions() as session:
            row = session.execute(
                select(Message).where(Message.conversation_id == conversation_id, Message.client_id == client_id)
            ).scalar_one_or_none()
            return stored_message(row) if row is not None else None

    def _append(
        self,
        conversation_id: str,
        sender: Sender,
        text: str,
        buttons: tuple[Button, ...],
        payload: str | None,
        client_id: str | None,
        inbox: InboxMark | None = None,
    ) -> tuple[StoredMessage, bool]:
        if client_id is not None:
            earlier = self._find_client_id(conversation_id, client_id)
            if earlier is not None:
                return earlier, False
        try:
            with self._sessions.begin() as session:
                conversation = session.get(Conversation, conversation_id)
                stored = self._add(session, conversation, conversation_id, sender, text, buttons, payload, client_id)
                if inbox is not None:
                    _mark_inbox(session, inbox)
        except IntegrityError:
            if client_id is None:
                raise
            earlier = self._find_client_id(conversation_id, client_id)
            if earlier is None:
                raise
            return earlier, False
        return stored, True

    async def find_client_id(self, conversation_id: str, client_id: str) -> StoredMessage | None:
        """The conversation's customer message with this ``client_id``, if stored."""
        return await asyncio.to_thread(self._find_client_id, conversation_id, client_id)

    async def message(self, cursor: int) -> StoredMessage | None:
        """One message by its cursor."""
        return await asyncio.to_thread(self._message, cursor)

    def _message(self, cursor: int) -> StoredMessage | None:
        with self._sessions() as session:
            row = session.get(Message, cursor)
            return stored_message(row) if row is not None else None

    async def messages_by_cursor(self, conversation_id: str, cursors: Sequence[int]) -> list[StoredMessage]:
        """The conversation's messages with these cursors, in cursor order (others are left out)."""
        if not cursors:
            return []

        def load() -> list[StoredMessage]:
            with self._sessions() as session:
                rows = session.execute(
                    select(Message)
                    .where(Message.conversation_id == conversation_id, Message.id.in_(list(cursors)))
                    .order_by(Message.id)
                ).scalars()
                return [stored_message(row) for row in rows]

        return await asyncio.to_thread(load)

    async def messages_after(self, conversation_id: str, after: int | None, limit: int = 500) -> list[StoredMessage]:
        """Messages with a cursor greater than ``after``, oldest first, at most ``limit``."""
        return await asyncio.to_thread(self._messages_after, conversation_id, after or 0, limit)

    def _messages_after(self, conversation_id: str, after: int, limit: int) -> list[StoredMessage]:
        with self._sessions() as session:
            rows = session.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after)
                .order_by(Message.id)
                .limit(limit)
            ).scalars()
            return [stored_message(row) for row in rows]

    async def active_handoff(self, conversation_id: str) -> HandoffRef | None:
        """The conversation's newest handoff that is not resolved, if any."""
        return await asyncio.to_thread(self._active_handoff, conversation_id)

    def _active_handoff(self, conversation_id: str) -> HandoffRef | None:
        with self._sessions() as session:
            row = session.execute(
                select(Handoff)
                .where(Handoff.conversation_id == conversation_id, Handoff.status != HandoffStatus.RESOLVED)
                .order_by(Handoff.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is None:
                return None
            status = row.status.value if isinstance(row.status, HandoffStatus) else str(row.status)
            return HandoffRef(id=row.id, status=status)


def _mark_inbox(session: Any, mark: InboxMark, replies: Sequence[int] = ()) -> None:
    item = session.get(InboxItem, mark.item_id)
    if item is not None:
        item.state = mark.state
        if mark.customer is not None:
            item.result = {"customer": mark.customer, "replies": list(replies)}
        if mark.state in ("done", "ignored"):
            item.done_at = utcnow()
            item.lease_owner = None
            item.lease_until = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
