"""The direct channel (``POST /api/v1/messages``): integrations, load tests, end-to-end tests.

A message is stored in the durable inbox under its idempotency key (the ``Idempotency-Key``
header or the body's ``client_id``; one is made up when neither is given), then the request
waits for the inbox worker to finish its turn and answers with that turn's replies. A retry or
a concurrent duplicate with the same key finds the same stored turn and gets the same replies;
the same key with a different message is a conflict. A turn that outlives the wait is still
answered: its replies are read later with ``GET /api/v1/conversations/{id}/messages``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.inbox import Inbox, InboxEvent
from bot.channels.turns import customer_message, event_body
from bot.conversations.identity import ANONYMOUS, IdentityResolver
from bot.conversations.service import ConversationService, TurnResult
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
        run_now: Callable[[InboxEvent], asyncio.Task[None] | None] | None = None,
    ) -> None:
        """Compose the channel; a request waits at most ``wait_s`` seconds for its turn.

        ``run_now``: starts the turn of a message stored already claimed, at once (the inbox
        worker's :meth:`~bot.channels.inbox.InboxWorker.run_now`); without it, or when it declines,
        the worker is woken and the request waits for the stored result.
        """
        self._conversations = conversations
        self._store = store
        self._inbox = inbox
        self._identity = identity
        self._wake_inbox = wake_inbox
        self._wait_s = wait_s
        self._start_turn = run_now
        #: Turns a request here waits for: item id -> the turn's result, once run by this replica.
        self._results: dict[int, TurnResult | None] = {}

    async def send(
        self,
        conversation_id: str,
        text: str,
        customer_token: str | None,
        key: str | None,
        language: str | None = None,
    ) -> DirectTurn:
        """Store the message once under ``key`` and return its turn's replies (``language``: the customer's).

        Raises:
            IdempotencyConflict: ``key`` was used for a different message of this conversation.
            sqlalchemy.exc.SQLAlchemyError: the database is unavailable (nothing was stored).
        """
        identity = ANONYMOUS
        if self._identity is not None:
            identity = await self._identity.resolve(PLATFORM, conversation_id, customer_token)
        client_id = key or uuid.uuid4().hex
        external_id = f"{conversation_id}:{client_id}"
        body = {
            **event_body(text, None, client_id, identity, language),
            "request": _fingerprint(text, identity.customer_id),
        }
        stored, new = await self._inbox.accept_or_find(
            PLATFORM, external_id, conversation_id, body, lease=self._start_turn is not None
        )
        if stored is None:  # purged between the two statements: only after days
            raise IdempotencyConflict("the key's first request is no longer known")
        if stored.body.get("request") != body["request"]:
            raise IdempotencyConflict("the key was used for a different message")
        self._results[stored.id] = None  # a turn this replica runs puts its result here (process())
        try:
            ran = await self._run_now(stored) if new else None
            if ran is not None:
                return ran
            if new:
                self._wake_inbox()
            finished = await self._inbox.wait_finished(stored.id, self._wait_s, open_now=new)
            here = self._results.get(stored.id)
        finally:
            self._results.pop(stored.id, None)
        if finished is not None and here is not None:
            return DirectTurn(tuple(here.replies), here.handoff, True)
        result = finished.result if finished is not None else None
        cursors = [cursor for cursor in (result or {}).get("replies", []) if isinstance(cursor, int)]
        replies, handoff = await self._store.turn_answer(conversation_id, cursors)
        if finished is None or result is None:
            return DirectTurn((), handoff, finished is not None)
        return DirectTurn(tuple(replies), handoff, True)

    async def _run_now(self, event: InboxEvent) -> DirectTurn | None:
        """Run the turn of a message stored already claimed, and answer from its result without reading it back.

        The caller has registered the event in ``_results``. ``None`` when the worker did not start
        it (the request then waits for the stored result) or the turn did not finish with a result
        here (it failed and will be retried).
        """
        task = self._start_turn(event) if self._start_turn is not None else None
        if task is None:
            return None
        try:
            await asyncio.wait_for(asyncio.shield(task), self._wait_s)
        except asyncio.TimeoutError:
            return DirectTurn((), await self._store.active_handoff(event.conversation_id), False)
        result = self._results.get(event.id)
        if result is None:
            return None
        return DirectTurn(tuple(result.replies), result.handoff, True)

    async def process(self, event: InboxEvent) -> bool:
        """Run the turn of a stored direct message (its result goes to the request waiting here, if any).

        ``True``: the turn closed the event with its replies.
        """
        message, turn = customer_message(event, PLATFORM)
        result = await self._conversations.handle(message, turn)
        if event.id in self._results:
            self._results[event.id] = result
        return True
