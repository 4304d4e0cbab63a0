"""Fan-out of new conversation messages (and typing notices) to live subscribers (WebSocket tabs).

In process; with a relay (:mod:`bot.conversations.relay`) also to the tabs other replicas hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.logs import log_id
from bot.core.messages import StoredMessage

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Typing:
    """The bot started (``on``) or finished working on a customer's message."""

    conversation_id: str
    on: bool


#: What a subscriber's queue receives; ``None`` means "you were dropped: reconnect and replay".
Delivery = StoredMessage | Typing | None


class ConversationHub:
    """Delivers each published message to every queue subscribed to its conversation."""

    def __init__(self, max_queue: int = 1000) -> None:
        """Create an empty hub; a subscriber more than ``max_queue`` messages behind is dropped."""
        self._subscribers: dict[str, set[asyncio.Queue[Delivery]]] = defaultdict(set)
        self._max_queue = max_queue
        self._listeners: list[Callable[[StoredMessage], None]] = []
        self._relays: list[Callable[[StoredMessage | Typing], None]] = []

    def on_publish(self, listener: Callable[[StoredMessage], None]) -> None:
        """Call ``listener`` (synchronously, it must not block) for every published message."""
        self._listeners.append(listener)

    def on_item(self, relay: Callable[[StoredMessage | Typing], None]) -> None:
        """Also hand every message and typing notice published here to ``relay`` (other replicas).

        Items from other replicas come in through :meth:`deliver_remote` and are not relayed again.
        """
        self._relays.append(relay)

    def deliver_remote(self, item: StoredMessage | Typing) -> None:
        """Deliver an item another replica published to the subscribers here (not to the listeners)."""
        self._deliver(item.conversation_id, item)

    def subscribe(self, conversation_id: str) -> asyncio.Queue[Delivery]:
        """Return a queue that receives the conversation's new messages."""
        queue: asyncio.Queue[Delivery] = asyncio.Queue(self._max_queue)
        self._subscribers[conversation_id].add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue[Delivery]) -> None:
        """Stop delivering to ``queue``."""
        queues = self._subscribers.get(conversation_id)
        if queues is None:
            return
        queues.discard(queue)
        if not queues:
            del self._subscribers[conversation_id]

    def publish(self, message: StoredMessage) -> None:
        """Hand ``message`` to every subscriber of its conversation, without waiting."""
        for listener in self._listeners:
            listener(message)
        self._deliver(message.conversation_id, message)
        self._relay(message)

    def publish_typing(self, conversation_id: str, on: bool) -> None:
        """Tell the conversation's subscribers that the bot is (no longer) working on a message."""
        typing = Typing(conversation_id, on)
        self._deliver(conversation_id, typing)
        self._relay(typing)

    def _relay(self, item: StoredMessage | Typing) -> None:
        for relay in self._relays:
            try:
                relay(item)
            except Exception:  # a relay failing harms no local subscriber
                _LOGGER.exception("hub.relay_failed")

    def _deliver(self, conversation_id: str, item: StoredMessage | Typing) -> None:
        for queue in list(self._subscribers.get(conversation_id, ())):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                # A stalled subscriber is closed; it replays from its cursor on reconnect.
                _LOGGER.warning("hub.subscriber_dropped conversation=%s", log_id(conversation_id))
                self.unsubscribe(conversation_id, queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def subscriber_count(self, conversation_id: str) -> int:
        """How many live subscribers a conversation has."""
        return len(self._subscribers.get(conversation_id, ()))
