"""Durable conversation storage: every customer, bot, agent and system message."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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


@dataclass(frozen=True)
class Arrived:
    """A customer message as :meth:`ConversationStore.arrive` stored it, and the conversation around it.

    Attributes:
        message: The stored message (the earlier copy when ``new`` is false).
        new: Whether it was stored now; false for a copy of a message with the same client id.
        handoff: The conversation's unresolved handoff, if any, read after the message was stored.
        first: Whether it is the first message the customer sent in this conversation.
    """

    message: StoredMessage
    new: bool
    handoff: HandoffRef | None
    first: bool


def stored_message(row: Any) -> StoredMessage:
    """A message row (a :class:`Message` or a row of its table) as the public :class:`StoredMessage`."""
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
        self._engine = engine
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
        with self._engine.begin() as connection:  # a concurrent request may create it first: then nothing happens
            _open_conversation(connection, conversation_id, channel, customer_id, address, utcnow())
        info = self._get(conversation_id)
        assert info is not None
        return info

    async def arrive(
        self,
        conversation_id: str,
        channel: str,
        text: str,
        *,
        customer_id: str | None = None,
        address: dict[str, Any] | None = None,
        payload: str | None = None,
        client_id: str | None = None,
        inbox: InboxMark | None = None,
    ) -> Arrived:
        """The start of a customer turn, in one trip off the event loop (docs/performance.md).

        Creates the conversation on ``channel`` when it is new (with ``address``), records its
        verified ``customer_id``, stores the message as :meth:`append` does (a copy with a known
        ``client_id`` is not stored twice, and ``inbox`` is then not applied), and reads the
        conversation's open handoff and whether this is the customer's first message.
        """
        return await asyncio.to_thread(
            self._arrive, conversation_id, channel, text, customer_id, address, payload, client_id, inbox
        )

    def _arrive(
        self,
        conversation_id: str,
        channel: str,
        text: str,
        customer_id: str | None,
        address: dict[str, Any] | None,
        payload: str | None,
        client_id: str | None,
        inbox: InboxMark | None,
    ) -> Arrived:
        now = utcnow()
        try:
            with self._engine.begin() as connection:
                if _open_conversation(
                    connection, conversation_id, channel, customer_id, address, now
                ):  # a new conversation has no earlier message, no handoff, and was touched just now
                    stored = _insert_message(
                        connection, conversation_id, None, Sender.CUSTOMER, text, (), payload, client_id, now
                    )
                    if inbox is not None:
                        _mark_inbox(connection, inbox, now)
                    return Arrived(stored, True, None, True)
                if customer_id is not None:
                    connection.execute(_SET_CUSTOMER, {"cid": conversation_id, "customer": customer_id})
                earlier = _client_message(connection, conversation_id, client_id)
                if earlier is not None:
                    return Arrived(earlier, False, _active_handoff(connection, conversation_id), False)
                stored = _insert_message(
                    connection, conversation_id, None, Sender.CUSTOMER, text, (), payload, client_id, now
                )
                _touch(connection, conversation_id, now)
                if inbox is not None:
                    _mark_inbox(connection, inbox, now)
                handoff = _active_handoff(connection, conversation_id)
                before = connection.execute(
                    _EARLIER_CUSTOMER_MESSAGE, {"cid": conversation_id, "cursor": stored.cursor}
                )
                return Arrived(stored, True, handoff, before.first() is None)
        except IntegrityError:
            if client_id is None:
                raise
            copy = self._find_client_id(conversation_id, client_id)  # stored meanwhile by another replica
            if copy is None:
                raise
            return Arrived(copy, False, self._active_handoff(conversation_id), False)

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
        with self._engine.begin() as connection:
            return self._write_replies(connection, conversation_id, replies, sender, inbox)

    @staticmethod
    def _write_replies(
        connection: Connection,
        conversation_id: str,
        replies: list[tuple[str, Sequence[Button]]],
        sender: Sender,
        inbox: InboxMark | None,
    ) -> list[StoredMessage]:
        now = utcnow()
        address = _address(connection, conversation_id)
        stored = [
            _insert_message(connection, conversation_id, address, sender, text, tuple(buttons), None, None, now)
            for text, buttons in replies
        ]
        if stored:
            _touch(connection, conversation_id, now)
        if inbox is not None:
            _mark_inbox(connection, inbox, now, [message.cursor for message in stored])
        return stored

    async def finish_turn(
        self, conversation_id: str, replies: Sequence[tuple[str, Sequence[Button]]], inbox: InboxMark | None = None
    ) -> tuple[list[StoredMessage], HandoffRef | None]:
        """Store a turn's bot replies as :meth:`append_replies` does; also return the open handoff after them."""

        def write() -> tuple[list[StoredMessage], HandoffRef | None]:
            with self._engine.begin() as connection:
                stored = self._write_replies(connection, conversation_id, list(replies), Sender.BOT, inbox)
                return stored, _active_handoff(connection, conversation_id)

        return await asyncio.to_thread(write)

    async def turn_answer(
        self, conversation_id: str, cursors: Sequence[int]
    ) -> tuple[list[StoredMessage], HandoffRef | None]:
        """A finished turn's replies (those of ``cursors``, in order; others left out) and the open handoff, at once."""

        def load() -> tuple[list[StoredMessage], HandoffRef | None]:
            with self._engine.connect() as connection:
                rows = (
                    connection.execute(_MESSAGES_BY_CURSOR, {"cid": conversation_id, "cursors": list(cursors)})
                    if cursors
                    else []
                )
                return [stored_message(row) for row in rows], _active_handoff(connection, conversation_id)

        return await asyncio.to_thread(load)

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
        now = utcnow()
        try:
            with self._engine.begin() as connection:
                earlier = _client_message(connection, conversation_id, client_id)
                if earlier is not None:
                    return earlier, False
                address = _address(connection, conversation_id)
                stored = _insert_message(
                    connection, conversation_id, address, sender, text, buttons, payload, client_id, now
                )
                _touch(connection, conversation_id, now)
                if inbox is not None:
                    _mark_inbox(connection, inbox, now)
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
            return _active_handoff(session, conversation_id)


# The statements of a turn's path are built once, with parameters: building a statement and its
# cache key anew for every execution cost the gateway more CPU than running it (docs/performance.md).
_ACTIVE_HANDOFF = (
    select(Handoff.id, Handoff.status)
    .where(Handoff.conversation_id == bindparam("cid"), Handoff.status != HandoffStatus.RESOLVED)
    .order_by(Handoff.id.desc())
    .limit(1)
)
_NEW_CONVERSATION = {
    "postgresql": postgresql.insert(Conversation.__table__).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(Conversation.__table__).on_conflict_do_nothing(),
}
_SET_CUSTOMER = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("cid"),
        or_(Conversation.customer_id.is_(None), Conversation.customer_id != bindparam("customer")),
    )
    .values(customer_id=bindparam("customer"))
)
_EARLIER_CUSTOMER_MESSAGE = (
    select(Message.id)
    .where(
        Message.conversation_id == bindparam("cid"),
        Message.sender == Sender.CUSTOMER,
        Message.id < bindparam("cursor"),
    )
    .limit(1)
)
_MESSAGES_BY_CURSOR = (
    select(Message.__table__)
    .where(Message.conversation_id == bindparam("cid"), Message.id.in_(bindparam("cursors", expanding=True)))
    .order_by(Message.id)
)
_ADDRESS = select(Conversation.address).where(Conversation.id == bindparam("cid"))
_CLIENT_MESSAGE = select(Message.__table__).where(
    Message.conversation_id == bindparam("cid"), Message.client_id == bindparam("client")
)
_INSERT_MESSAGE = insert(Message)
_INSERT_OUTBOX = insert(OutboxItem)
_TOUCH = update(Conversation).where(Conversation.id == bindparam("cid")).values(updated_at=bindparam("now"))
#: Inbox updates by the columns they set (a mark sets its state, and on finishing its result and times).
_MARKS: dict[tuple[str, ...], Any] = {}


def _active_handoff(connection: Connection | Session, conversation_id: str) -> HandoffRef | None:
    row = connection.execute(_ACTIVE_HANDOFF, {"cid": conversation_id}).first()
    if row is None:
        return None
    status = row.status.value if isinstance(row.status, HandoffStatus) else str(row.status)
    return HandoffRef(id=row.id, status=status)


# The write path of a turn runs as SQL statements on one connection, not through the ORM's unit of
# work: a turn's few rows cost a fraction of the CPU that way (docs/performance.md).


def _open_conversation(
    connection: Connection,
    conversation_id: str,
    channel: str,
    customer_id: str | None,
    address: dict[str, Any] | None,
    now: dt.datetime,
) -> bool:
    """Create the conversation unless it exists (``INSERT ... ON CONFLICT DO NOTHING``); whether it was created."""
    values = {"id": conversation_id, "channel": channel, "customer_id": customer_id, "address": address}
    statement = _NEW_CONVERSATION[connection.dialect.name]
    return bool(connection.execute(statement, {**values, "created_at": now, "updated_at": now}).rowcount == 1)


def _address(connection: Connection, conversation_id: str) -> dict[str, Any] | None:
    """Where a push channel delivers the conversation's messages, if anywhere."""
    address = connection.execute(_ADDRESS, {"cid": conversation_id}).scalar()
    return address if isinstance(address, dict) else None


def _client_message(connection: Connection, conversation_id: str, client_id: str | None) -> StoredMessage | None:
    """The conversation's message stored under ``client_id`` (a customer's re-sent copy), if any."""
    if client_id is None:
        return None
    row = connection.execute(_CLIENT_MESSAGE, {"cid": conversation_id, "client": client_id}).first()
    return stored_message(row) if row is not None else None


def _insert_message(
    connection: Connection,
    conversation_id: str,
    address: dict[str, Any] | None,
    sender: Sender,
    text: str,
    buttons: tuple[Button, ...],
    payload: str | None,
    client_id: str | None,
    now: dt.datetime,
) -> StoredMessage:
    """Insert one message; a bot, agent or system message of a conversation with an address also goes to the outbox."""
    result = connection.execute(
        _INSERT_MESSAGE,
        {
            "conversation_id": conversation_id,
            "sender": sender,
            "text": text,
            "payload": payload,
            "buttons": [b.to_json() for b in buttons],
            "client_id": client_id,
            "created_at": now,
        },
    )
    message_id = int(result.inserted_primary_key[0])
    if address is not None and sender != Sender.CUSTOMER:
        connection.execute(
            _INSERT_OUTBOX,
            {
                "platform": str(address.get("platform", "")),
                "chat_key": chat_key(address),
                "conversation_id": conversation_id,
                "message_id": message_id,
                "address": address,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
    return StoredMessage(
        cursor=message_id,
        conversation_id=conversation_id,
        sender=sender.value,
        text=text,
        buttons=buttons,
        client_id=client_id,
        created_at=now,
    )


def _touch(connection: Connection, conversation_id: str, now: dt.datetime) -> None:
    connection.execute(_TOUCH, {"cid": conversation_id, "now": now})


def _mark_inbox(connection: Connection, mark: InboxMark, now: dt.datetime, replies: Sequence[int] = ()) -> None:
    values: dict[str, Any] = {"state": mark.state}
    if mark.customer is not None:
        values["result"] = {"customer": mark.customer, "replies": list(replies)}
    if mark.state in ("done", "ignored"):
        values.update(done_at=now, lease_owner=None, lease_until=None)
    columns = tuple(values)
    statement = _MARKS.get(columns)
    if statement is None:
        statement = _MARKS[columns] = (
            update(InboxItem)
            .where(InboxItem.id == bindparam("item"))
            .values({column: bindparam(f"new_{column}") for column in columns})
        )
    connection.execute(
        statement, {"item": mark.item_id, **{f"new_{column}": value for column, value in values.items()}}
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
