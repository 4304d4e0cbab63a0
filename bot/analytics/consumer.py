"""The analytics consumer of Rasa's events in a cluster: the queue says a turn happened, the import counts it.

With ``BOT_RABBITMQ_URL`` set, every Rasa server publishes each tracker event to the
``BOT_EVENTS_QUEUE`` queue (bot/dialogue/endpoints.py). One gateway replica (the holder of the
``analytics_consumer`` lease) reads that queue: each customer turn (``"event": "user"``) it sees
makes it run :func:`bot.analytics.store.import_turns` soon after (at most every
``debounce_s``), which copies the turns from Rasa's tracker store, once each, by the tracker
row's id. So the broker is the signal and the tracker store stays the one record: a message
lost or read twice changes no figure, and the queue is drained instead of growing. Messages are
acknowledged after the import that covers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

_LOGGER = logging.getLogger(__name__)


class EventsConsumer:
    """Reads Rasa's events queue and imports the turns it announces."""

    def __init__(
        self,
        rabbitmq_url: str,
        queue: str,
        import_turns: Callable[[], int],
        *,
        holding: Callable[[], bool] = lambda: True,
        debounce_s: float = 2.0,
    ) -> None:
        """Consume ``queue`` at ``rabbitmq_url`` while ``holding()`` (the lease); ``import_turns`` returns a count."""
        self._url, self._queue = rabbitmq_url, queue
        self._import, self._holding, self._debounce_s = import_turns, holding, debounce_s
        self._pending: list[Any] = []  # messages read, acknowledged after the next import
        self._turns_seen = False
        self.imported = 0
        self.messages = 0

    async def run(self) -> None:
        """Forever (cancel to stop): hold the lease, consume, import; reconnect after a pause when cut off."""
        import aio_pika

        pause = 1.0
        while True:
            try:
                if not await asyncio.to_thread(self._holding):
                    await asyncio.sleep(5)
                    continue
                connection = await aio_pika.connect(self._url, timeout=5)
                async with connection:
                    channel = await connection.channel()
                    await channel.set_qos(prefetch_count=500)
                    queue = await channel.declare_queue(self._queue, durable=True)  # as Rasa declares it
                    pause = 1.0
                    await self._consume(queue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RabbitMQ away: the tracker store keeps every turn; import later
                _LOGGER.warning("analytics.consumer_disconnected error=%s retry_in=%.0fs", type(exc).__name__, pause)
                self._pending.clear()  # unacknowledged: RabbitMQ hands them out again
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    async def _consume(self, queue: Any) -> None:
        renew_every = 5.0
        since_renewal = 0.0
        while True:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await self._flush()
                await asyncio.sleep(self._debounce_s)
                since_renewal += self._debounce_s
            else:
                self.messages += 1
                self._pending.append(message)
                self._turns_seen |= _is_turn(message.body)
                if len(self._pending) >= 500:
                    await self._flush()
            if since_renewal >= renew_every:
                since_renewal = 0.0
                if not await asyncio.to_thread(self._holding):
                    await self._flush()
                    return  # another replica holds the lease now

    async def _flush(self) -> None:
        if self._turns_seen:
            self.imported += await asyncio.to_thread(self._import)
            self._turns_seen = False
        for message in self._pending:
            with contextlib.suppress(Exception):
                await message.ack()
        self._pending.clear()


def _is_turn(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("event") == "user")
    except (ValueError, AttributeError):
        return False
