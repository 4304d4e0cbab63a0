"""Cross-replica fan-out: what one gateway's hub publishes reaches the open tabs on every other one.

A customer's WebSocket is held by one gateway replica, but an agent's reply, a late bot answer
or a message from another channel may be stored by another. With ``BOT_REDIS_URL`` set, each
replica's :class:`RedisRelay` publishes every message and typing notice its hub publishes on
one Redis pub/sub channel (``<BOT_REDIS_PREFIX>:hub``), and delivers what the other replicas
published to its own hub's subscribers only (never to its listeners: the outbox of the replica
that stored a message sends it, once). Pub/sub keeps nothing: a message published while a
replica is cut off from Redis is not lost, because every message is stored first and a tab
replays from its cursor when it reconnects; the relay reconnects with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import uuid
from typing import Any

from bot.conversations.hub import ConversationHub, Typing
from bot.core.messages import Button, StoredMessage

_LOGGER = logging.getLogger(__name__)


def encode(origin: str, item: StoredMessage | Typing) -> str:
    """One relayed item as JSON."""
    if isinstance(item, Typing):
        return json.dumps({"origin": origin, "typing": {"conversation_id": item.conversation_id, "on": item.on}})
    return json.dumps(
        {
            "origin": origin,
            "message": {
                "cursor": item.cursor,
                "conversation_id": item.conversation_id,
                "sender": item.sender,
                "text": item.text,
                "buttons": [[b.title, b.payload] for b in item.buttons],
                "client_id": item.client_id,
                "created_at": item.created_at.isoformat(),
            },
        }
    )


def decode(raw: str | bytes) -> tuple[str, StoredMessage | Typing]:
    """The origin and the item of one relayed JSON document.

    Raises:
        ValueError: not a relayed item.
    """
    try:
        data: dict[str, Any] = json.loads(raw)
        origin = str(data["origin"])
        if "typing" in data:
            typing = data["typing"]
            return origin, Typing(str(typing["conversation_id"]), bool(typing["on"]))
        m = data["message"]
        message = StoredMessage(
            cursor=int(m["cursor"]),
            conversation_id=str(m["conversation_id"]),
            sender=str(m["sender"]),
            text=str(m["text"]),
            buttons=tuple(Button(str(title), str(payload)) for title, payload in m["buttons"]),
            client_id=None if m["client_id"] is None else str(m["client_id"]),
            created_at=dt.datetime.fromisoformat(m["created_at"]),
        )
        return origin, message
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a relayed hub item: {type(exc).__name__}") from exc


class RedisRelay:
    """Joins one replica's hub to the others' over Redis pub/sub."""

    def __init__(self, hub: ConversationHub, redis_url: str, prefix: str, *, origin: str | None = None) -> None:
        """Relay ``hub`` on channel ``<prefix>:hub`` of the Redis at ``redis_url``."""
        import redis.asyncio as aioredis

        self._hub = hub
        self._client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=None)
        self.channel = f"{prefix}:hub"
        self.origin = origin or uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.relayed_out = 0
        self.relayed_in = 0

    async def start(self) -> None:
        """Send the hub's items out and listen for the others' (returns once listening, or after 5 s)."""
        self._hub.on_item(self._send)
        self._task = asyncio.create_task(self._listen(), name="hub-relay")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.close()

    def _send(self, item: StoredMessage | Typing) -> None:
        asyncio.get_running_loop().create_task(self._publish(encode(self.origin, item)))

    async def _publish(self, document: str) -> None:
        try:
            await self._client.publish(self.channel, document)
            self.relayed_out += 1
        except Exception as exc:  # Redis away: the item is stored; tabs elsewhere replay it on reconnect
            _LOGGER.warning("relay.publish_failed error=%s", type(exc).__name__)

    async def _listen(self) -> None:
        pause = 0.5
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                pause = 0.5
                async for raw in pubsub.listen():
                    self._receive(raw.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                _LOGGER.warning("relay.disconnected error=%s retry_in=%.1fs", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose() if hasattr(pubsub, "aclose") else await pubsub.close()

    def _receive(self, raw: Any) -> None:
        if not isinstance(raw, (str, bytes)):
            return
        try:
            origin, item = decode(raw)
        except ValueError:
            _LOGGER.warning("relay.bad_item")
            return
        if origin == self.origin:
            return  # our own, delivered here already
        self.relayed_in += 1
        self._hub.deliver_remote(item)
