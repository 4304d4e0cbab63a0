"""The direct channel (``POST /api/v1/messages``): integrations, load tests, end-to-end tests.

A message is stored in the durable inbox under its idempotency key (the ``Idempotency-Key``
header or the body's ``client_id``; one is made up when neither is given), then the request
waits for the inbox worker to finish its turn and answers with that turn's replies. A retry or
a concurrent duplicate with the same key finds the same stored turn and gets the same replies;
the same key with a different message is a conflict. A turn that outlives the wait is still
answered: its replies are read later with ``GET /api/v1/conversations/{id}/messages``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.inbox import Inbox, InboxEvent
from bot.channels.turns import customer_message, event_body
from bot.conversations.identity import ANONYMOUS, IdentityResolver
from bot.conversations.service import ConversationService
from bot.conversations.store import ConversationStore
from bot.core.messages import HandoffRef, StoredMessage

PLATFORM = "direct"


class IdempotencyConflict(Exception):
    """The key was used before for a different message."""


@dataclass(frozen=True)
class DirectTurn:
    """A direct message's turn: its replies, the conversation's open handoff, whether it finished in time."""

    replies: tuple[StoredMessage, ...]
    handoff: HandoffRef | None
    finished: bool


def _fingerprint(text: str, customer_id: str | None) -> str:
    """What makes two requests with one key the same request."""
    return hashlib.sha256(json.dumps([text, customer_id]).encode("utf-8")).hexdigest()


class DirectChannel:
    """Accepts direct messages into the inbox, runs their turns, and hands each request its turn's result."""

    def __init__(
        self,
        *,
        conversations: ConversationService,
        store: ConversationStore,
        inbox: Inbox,
        identity: IdentityResolver | None,
        wake_inbox: Callable[[], None],
        wait_s: float,
    ) -> None:
        """Compose the channel; a request waits at most ``wait_s`` seconds for its turn."""
        self._conversations = conversations
        self._store = store
        self._inbox = inbox
        self._identity = identity
        self._wake_inbox = wake_inbox
        self._wait_s = wait_s

    async def send(self, conversation_id: str, text: str, customer_token: str | None, key: str | None) -> DirectTurn:
        """Store the message once under ``key`` and return its turn's replies.

        Raises:
            IdempotencyConflict: ``key`` was used for a different message of this conversation.
            sqlalchemy.exc.SQLAlchemyError: the database is unavailable (nothing was stored).
        """
        identity = ANONYMOUS
        if self._identity is not None:
            identity = await self._identity.resolve(PLATFORM, conversation_id, customer_token)
        client_id = key or uuid.uuid4().hex
        external_id = f"{conversation_id}:{client_id}"
        body = {**event_body(text, None, client_id, identity), "request": _fingerprint(text, identity.customer_id)}
        if await self._inbox.accept(PLATFORM, external_id, conversation_id, body):
            self._wake_inbox()
        stored = await self._inbox.lookup(PLATFORM, external_id)
        if stored is None:  # purged between the two statements: only after days
            raise IdempotencyConflict("the key's first request is no longer known")
        if stored.body.get("request") != body["request"]:
            raise IdempotencyConflict("the key was used for a different message")
        finished = await self._inbox.wait_finished(stored.id, self._wait_s)
        handoff = await self._store.active_handoff(conversation_id)
        if finished is None or finished.result is None:
            return DirectTurn((), handoff, finished is not None)
        cursors = [cursor for cursor in finished.result.get("replies", []) if isinstance(cursor, int)]
        replies = await self._store.messages_by_cursor(conversation_id, cursors)
        return DirectTurn(tuple(replies), handoff, True)

    async def process(self, event: InboxEvent) -> None:
        """Run the turn of a stored direct message."""
        message, turn = customer_message(event, PLATFORM)
        await self._conversations.handle(message, turn)
