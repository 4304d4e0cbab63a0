"""The customer turn: store the message, ask the dialogue model, store and fan out replies."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.conversations.hub import ConversationHub
from bot.conversations.identity import ANONYMOUS, IdentityResolver
from bot.conversations.store import (
    Button,
    ConversationInfo,
    ConversationStore,
    HandoffRef,
    InboxMark,
    StoredMessage,
)
from bot.db.models import Sender
from bot.dialogue.rasa_client import DialogueUnavailable, RasaClient
from bot.handoff.events import HandoffEvents
from bot.texts import Texts

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerMessage:
    """What a customer sent on some channel, already validated by the channel."""

    conversation_id: str
    channel: str
    text: str
    payload: str | None = None
    client_id: str | None = None
    customer_token: str | None = None
    channel_user: str | None = None  # the sender on the channel (defaults to the conversation id)
    address: dict[str, Any] | None = None  # a push channel's chat: replies go through the outbox


@dataclass(frozen=True)
class InboxTurn:
    """The stored platform event a customer message came from, and how far it got."""

    item_id: int
    state: str  # "pending" or "stored"


@dataclass(frozen=True)
class TurnResult:
    """The stored customer message and the replies that answered it."""

    customer_message: StoredMessage
    replies: Sequence[StoredMessage]
    duplicate: bool
    handoff: HandoffRef | None


class ConversationService:
    """Runs customer turns one at a time per conversation, in arrival order."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        hub: ConversationHub,
        dialogue: RasaClient,
        texts: Texts,
        identity: IdentityResolver | None = None,
        handoff_events: HandoffEvents | None = None,
    ) -> None:
        """Compose the service from its collaborators (no ``identity``: every message is anonymous)."""
        self._identity = identity
        self.handoff_events = handoff_events or HandoffEvents()
        self._store = store
        self._hub = hub
        self._dialogue = dialogue
        self._texts = texts
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    async def open_conversation(self, conversation_id: str, channel: str, customer_id: str | None) -> ConversationInfo:
        """Return the conversation, creating it on ``channel`` if it is new."""
        return await self._store.ensure(conversation_id, channel, customer_id)

    async def handle(self, message: CustomerMessage, inbox: InboxTurn | None = None) -> TurnResult:
        """Store ``message``, get the bot's replies and store them; never raises for Rasa outages.

        The customer's message is stored before the dialogue model is asked, so nothing the
        customer sent is lost when Rasa is down; they get a polite "try again" reply instead.

        ``inbox`` comes with a push channel's stored event: its state moves with the messages
        (in the same transactions), and an event whose customer message was stored before a
        crash is finished without asking the dialogue model twice (see :meth:`_recover`).
        """
        lock = self._lock(message.conversation_id)
        channel_user = message.channel_user or message.conversation_id
        identity = ANONYMOUS
        if self._identity is not None:
            identity = await self._identity.resolve(message.channel, channel_user, message.customer_token)
        async with lock:
            await self._store.ensure(message.conversation_id, message.channel, identity.customer_id, message.address)
            if identity.customer_id is not None:
                await self._store.attach_customer(message.conversation_id, identity.customer_id)
            recovering = inbox is not None and inbox.state == "stored" and message.client_id is not None
            earlier = (
                await self._store.find_client_id(message.conversation_id, message.client_id)
                if recovering and message.client_id is not None
                else None
            )
            if earlier is not None and inbox is not None:
                stored, is_new = earlier, True
                _LOGGER.info("turn.recovering conversation=%s item=%d", message.conversation_id, inbox.item_id)
            else:
                recovering = False
                stored, is_new = await self._store.append(
                    message.conversation_id,
                    Sender.CUSTOMER,
                    message.text,
                    payload=message.payload,
                    client_id=message.client_id,
                    inbox=InboxMark(inbox.item_id, "stored") if inbox is not None else None,
                )
                if is_new:
                    self._hub.publish(stored)
            done = InboxMark(inbox.item_id, "done") if inbox is not None else None
            if not is_new:
                _LOGGER.info("turn.duplicate conversation=%s cursor=%d", message.conversation_id, stored.cursor)
                if inbox is not None:
                    ignored = InboxMark(inbox.item_id, "ignored")  # another event carried the same message
                    await self._store.append_replies(message.conversation_id, (), inbox=ignored)
                return TurnResult(stored, (), True, await self._store.active_handoff(message.conversation_id))
            open_handoff = await self._store.active_handoff(message.conversation_id)
            if open_handoff is not None:
                # A person has (or is about to take) the conversation: the bot stays silent and
                # the agent sees the message (stored and published above).
                await self.handoff_events.customer(open_handoff.id, stored)
                if done is not None:
                    await self._store.append_replies(message.conversation_id, (), inbox=done)
                _LOGGER.info(
                    "turn.relayed_to_agent conversation=%s handoff=%d", message.conversation_id, open_handoff.id
                )
                return TurnResult(stored, (), False, open_handoff)
            # The only source of identity for the actions (never slots or message text).
            metadata = {
                "channel": message.channel,
                "conversation_id": message.conversation_id,
                "channel_user": channel_user,
                "customer_id": identity.customer_id,
                "verified_by": identity.verified_by,
            }
            if message.client_id is not None:
                metadata["turn"] = message.client_id
            try:
                bot_replies = None
                if recovering and message.client_id is not None:
                    bot_replies = await self._dialogue.replies_of_turn(message.conversation_id, message.client_id)
                if bot_replies is None:
                    bot_replies = await self._dialogue.send(
                        message.conversation_id, message.payload or message.text, metadata
                    )
                if not bot_replies:
                    # Every turn of the model answers; silence means an action failed (e.g. the
                    # action server is down), and the customer must not be left waiting.
                    raise DialogueUnavailable("the dialogue model sent no reply")
                _LOGGER.info("turn.answered conversation=%s replies=%d", message.conversation_id, len(bot_replies))
            except DialogueUnavailable as exc:
                _LOGGER.warning("turn.dialogue_unavailable conversation=%s reason=%s", message.conversation_id, exc)
                replies = await self._store_replies(
                    message.conversation_id, [(self._texts.dialogue_unavailable, ())], done
                )
                return TurnResult(stored, replies, False, await self._store.active_handoff(message.conversation_id))
            replies = await self._store_replies(
                message.conversation_id, [(reply.text, reply.buttons) for reply in bot_replies], done
            )
            handoff = await self._store.active_handoff(message.conversation_id)
            if handoff is not None:
                # Requested by the action server during this turn (none was open before it).
                await self.handoff_events.opened(handoff.id, message.conversation_id)
            return TurnResult(stored, replies, False, handoff)

    async def _store_replies(
        self, conversation_id: str, replies: Sequence[tuple[str, Sequence[Button]]], done: InboxMark | None
    ) -> list[StoredMessage]:
        """Store a turn's replies (with the inbox item's completion) at once, then publish them."""
        stored = await self._store.append_replies(conversation_id, replies, inbox=done)
        for message in stored:
            self._hub.publish(message)
        return stored

    async def bot_turn(self, conversation_id: str, intent: str) -> list[StoredMessage]:
        """Let the bot speak without a customer message (after a handoff ends); store and publish it."""
        async with self._lock(conversation_id):
            try:
                bot_replies = await self._dialogue.trigger_intent(conversation_id, intent)
            except DialogueUnavailable as exc:
                _LOGGER.warning("turn.trigger_failed conversation=%s reason=%s", conversation_id, exc)
                return []
            return [await self._append_bot(conversation_id, r.text, r.buttons) for r in bot_replies]

    async def agent_message(self, handoff_id: int, agent_id: str, conversation_id: str, text: str) -> StoredMessage:
        """Store an agent's reply in the conversation and deliver it on the customer's channel."""
        async with self._lock(conversation_id):
            stored, _ = await self._store.append(conversation_id, Sender.AGENT, text)
            self._hub.publish(stored)
        await self.handoff_events.agent(handoff_id, agent_id, stored)
        return stored

    async def system_message(self, conversation_id: str, text: str) -> StoredMessage:
        """Store and deliver a notice from the support system (e.g. a handoff closed)."""
        async with self._lock(conversation_id):
            stored, _ = await self._store.append(conversation_id, Sender.SYSTEM, text)
            self._hub.publish(stored)
            return stored

    async def _append_bot(self, conversation_id: str, text: str, buttons: Sequence = ()) -> StoredMessage:
        stored, _ = await self._store.append(conversation_id, Sender.BOT, text, buttons=buttons)
        self._hub.publish(stored)
        return stored
