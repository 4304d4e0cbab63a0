"""In-process fan-out of new conversation messages to live subscribers (WebSocket tabs)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from bot.core.messages import StoredMessage

_LOGGER = logging.getLogger(__name__)


class ConversationHub:
    """Delivers each published message to every queue subscribed to its conversation."""

    def __init__(self, max_queue: int = 1000) -> None:
        """Create an empty hub; a subscriber more than ``max_queue`` messages behind is dropped."""
        self._subscribers: dict[str, set[asyncio.Queue[StoredMessage | None]]] = defaultdict(set)
        self._max_queue = max_queue
        self._listeners: list[Callable[[StoredMessage], None]] = []

    def on_publish(self, listener: Callable[[StoredMessage], None]) -> None:
        """Call ``listener`` (synchronously, it must not block) for every published message."""
        self._listeners.append(listener)

    def subscribe(self, conversation_id: str) -> asyncio.Queue[StoredMessage | None]:
        """Return a queue that receives the conversation's new messages."""
        queue: asyncio.Queue[StoredMessage | None] = asyncio.Queue(self._max_queue)
        self._subscribers[conversation_id].add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue[StoredMessage | None]) -> None:
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
        for queue in list(self._subscribers.get(message.conversation_id, ())):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # A stalled subscriber is closed; it replays from its cursor on reconnect.
                _LOGGER.warning("hub.subscriber_dropped conversation=%s", message.conversation_id)
                self.unsubscribe(message.conversation_id, queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def subscriber_count(self, conversation_id: str) -> int:
        """How many live subscribers a conversation has."""
        return len(self._subscribers.get(conversation_id, ()))
