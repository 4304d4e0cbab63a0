"""Two gateway replicas' hubs joined over the real Redis: a tab on one sees what the other stores."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.conversations.hub import ConversationHub, Delivery, Typing
from bot.conversations.relay import RedisRelay, decode, encode
from bot.core.messages import Button, StoredMessage
from tests.shared_services import RedisForRun

MESSAGE = StoredMessage(
    cursor=7,
    conversation_id="c-1",
    sender="agent",
    text="Your parcel left today.",
    buttons=(Button("Thanks", "/thanks"),),
    client_id=None,
    created_at=dt.datetime(2026, 12, 5, 13, 0, 1, 250000),
)


def test_items_cross_as_json_unchanged_and_anything_else_is_refused() -> None:
    assert decode(encode("a", MESSAGE)) == ("a", MESSAGE)
    assert decode(encode("a", Typing("c-1", True))) == ("a", Typing("c-1", True))
    for bad in ("{}", "[1]", "not json", '{"origin": "a", "message": {"cursor": "x"}}'):
        with pytest.raises(ValueError, match="not a relayed hub item"):
            decode(bad)


async def _next(queue: asyncio.Queue[Delivery], timeout: float = 5.0) -> Delivery:
    return await asyncio.wait_for(queue.get(), timeout)


async def test_a_message_stored_on_one_replica_reaches_a_tab_on_the_other(
    redis_service: RedisForRun, caplog: pytest.LogCaptureFixture
) -> None:
    import redis.asyncio as aioredis

    hub_a, hub_b = ConversationHub(), ConversationHub()
    heard_a: list[StoredMessage] = []
    heard_b: list[StoredMessage] = []
    hub_a.on_publish(heard_a.append)
    hub_b.on_publish(heard_b.append)
    relay_a = RedisRelay(hub_a, redis_service.url, redis_service.prefix)
    relay_b = RedisRelay(hub_b, redis_service.url, redis_service.prefix)
    await relay_a.start()
    await relay_b.start()
    try:
        tab_a, tab_b = hub_a.subscribe("c-1"), hub_b.subscribe("c-1")
        other_conversation = hub_b.subscribe("c-2")

        hub_a.publish(MESSAGE)
        hub_a.publish_typing("c-1", False)
        assert await _next(tab_b) == MESSAGE and await _next(tab_b) == Typing("c-1", False)
        assert await _next(tab_a) == MESSAGE and await _next(tab_a) == Typing("c-1", False)
        await asyncio.sleep(0.3)
        assert tab_a.empty() and tab_b.empty() and other_conversation.empty()  # no echo, no stray delivery
        assert heard_a == [MESSAGE] and heard_b == []  # only the storing replica's outbox sends it

        # Redis drops the relays' subscriptions: they subscribe again, and the next message crosses.
        admin = aioredis.Redis.from_url(redis_service.url)
        try:
            await admin.client_kill_filter(_type="pubsub")
        finally:
            await admin.close()
        later = StoredMessage(**{**MESSAGE.__dict__, "cursor": 8, "text": "It arrives tomorrow."})
        for _ in range(100):
            hub_b.publish_typing("c-1", True)  # a probe until A listens again
            try:
                if await _next(tab_a, 0.1) == Typing("c-1", True):
                    break
            except asyncio.TimeoutError:
                continue
        while not tab_a.empty():
            tab_a.get_nowait()
        hub_b.publish(later)
        assert await _next(tab_a) == later
        assert "relay.disconnected" in caplog.text  # it did lose the subscription, and came back
    finally:
        await relay_a.close()
        await relay_b.close()
    assert relay_a.relayed_out >= 2 and relay_b.relayed_in >= 2
