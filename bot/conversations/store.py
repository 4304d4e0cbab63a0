"""Durable conversation storage: every customer, bot, agent and system message."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db.engine import session_factory
from bot.db.models import Conversation, Handoff, HandoffStatus, Message, Sender, utcnow


@dataclass(frozen=True)
class Button:
    """A quick-reply button: the title shown, the payload sent back."""

    title: str
    payload: str


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored; ``cursor`` orders a conversation's messages."""

    cursor: int
    conversation_id: str
    sender: str
    text: str
    buttons: tuple[Button, ...]
    client_id: str | None
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """Public JSON shape, shared by the direct API and the WebSocket protocol."""
        data: dict[str, Any] = {
            "cursor": self.cursor,
            "sender": self.sender,
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "created_at": self.created_at.replace(tzinfo=dt.timezone.utc).isoformat(),
        }
        if self.client_id is not None:
            data["client_id"] = self.client_id
        return data


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation's identity and where it lives."""

    id: str
    channel: str
    customer_id: str | None


@dataclass(frozen=True)
class HandoffRef:
    """The public view of a handoff: id and status."""

    id: int
    status: str


def _to_stored(row: Message) -> StoredMessage:
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
            return ConversationInfo(id=row.id, channel=row.channel, customer_id=row.customer_id)

    async def ensure(self, conversation_id: str, channel: str, customer_id: str | None = None) -> ConversationInfo:
        """Return the conversation, creating it on ``channel`` when it is new."""
        return await asyncio.to_thread(self._ensure, conversation_id, channel, customer_id)

    def _ensure(self, conversation_id: str, channel: str, customer_id: str | None) -> ConversationInfo:
        existing = self._get(conversation_id)
        if existing is not None:
            return existing
        try:
            with self._sessions.begin() as session:
                session.add(Conversation(id=conversation_id, channel=channel, customer_id=customer_id))
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

    async def append(
        self,
        conversation_id: str,
        sender: Sender,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        payload: str | None = None,
        client_id: str | None = None,
    ) -> tuple[StoredMessage, bool]:
        """Store a message; returns it and whether it is new.

        A customer message carrying a ``client_id`` already stored in this conversation is
        not stored twice: the earlier copy is returned with ``False``.
        """
        return await asyncio.to_thread(self._append, conversation_id, sender, text, tuple(buttons), payload, client_id)

    def _find_client_id(self, conversation_id: str, client_id: str) -> StoredMessage | None:
        with self._sessions() as session:
            row = session.execute(
                select(Message).where(Message.conversation_id == conversation_id, Message.client_id == client_id)
            ).scalar_one_or_none()
            return _to_stored(row) if row is not None else None

    def _append(
        self,
        conversation_id: str,
        sender: Sender,
        text: str,
        buttons: tuple[Button, ...],
        payload: str | None,
        client_id: str | None,
    ) -> tuple[StoredMessage, bool]:
        if client_id is not None:
            earlier = self._find_client_id(conversation_id, client_id)
            if earlier is not None:
                return earlier, False
        row = Message(
            conversation_id=conversation_id,
            sender=sender,
            text=text,
            payload=payload,
            buttons=[{"title": b.title, "payload": b.payload} for b in buttons],
            client_id=client_id,
            created_at=utcnow(),
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
                conversation = session.get(Conversation, conversation_id)
                if conversation is not None:
                    conversation.updated_at = row.created_at
                session.flush()
                stored = _to_stored(row)
        except IntegrityError:
            if client_id is None:
                raise
            earlier = self._find_client_id(conversation_id, client_id)
            if earlier is None:
                raise
            return earlier, False
        return stored, True

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
            return [_to_stored(row) for row in rows]

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
