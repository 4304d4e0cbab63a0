"""Every channel's turn is durable: once the gateway took a message, it is answered exactly once (issue 14, points 2 and 4)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.channels.test_web import _connect
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]


async def _messages(client: TestClient, auth: dict[str, str], conversation_id: str) -> list[tuple[str, str]]:
    listed = await (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth)).json()
    return [(m["sender"], m["text"]) for m in listed["messages"]]


async def test_a_socket_dropped_mid_turn_still_gets_its_reply_once(gateway: Gateway, auth: dict[str, str]) -> None:
    """Point 2: the message was taken; the tab closed while Rasa thought; the reply waits for the next connection."""
    client, fake = gateway
    fake.delay_s = 0.6
    ws, conversation_id = await _connect(client)
    await ws.send_json({"type": "message", "text": "hello", "client_id": "m1"})
    await asyncio.sleep(0.2)  # the turn is under way...
    await ws.close()  # ...when the socket goes
    await asyncio.sleep(1.0)
    ws2, same = await _connect(client, conversation_id, after=0)
    assert same == conversation_id
    replayed = [await ws2.receive_json(timeout=5) for _ in range(2)]
    assert [(f["sender"], f["text"]) for f in replayed] == [("customer", "hello"), ("bot", "you said: hello")]
    await ws2.send_json({"type": "message", "text": "hello", "client_id": "m1"})  # the widget re-sends it
    echo = await ws2.receive_json(timeout=5)
    assert (echo["cursor"], echo["client_id"]) == (replayed[0]["cursor"], "m1")
    await ws2.close()
    assert len(fake.received) == 1
    assert await _messages(client, auth, conversation_id) == [("customer", "hello"), ("bot", "you said: hello")]


async def test_a_retry_and_concurrent_duplicates_get_the_first_turn(gateway: Gateway, auth: dict[str, str]) -> None:
    """Point 4: five identical concurrent posts and a later retry with one Idempotency-Key make one turn."""
    client, fake = gateway
    fake.delay_s = 0.3
    headers = {**auth, "Idempotency-Key": "order-question-1"}
    body = {"conversation_id": "idem-1", "text": "two"}
    responses = await asyncio.gather(*(client.post("/api/v1/messages", json=body, headers=headers) for _ in range(5)))
    answers: list[Any] = [await r.json() for r in responses]
    assert [r.status for r in responses] == [200] * 5
    expected = {"replies": [{"text": "first", "buttons": []}, {"text": "second", "buttons": []}], "handoff": None}
    assert answers == [expected] * 5
    retry = await client.post("/api/v1/messages", json=body, headers=headers)
    assert retry.status == 200 and await retry.json() == expected
    assert len(fake.received) == 1
    assert await _messages(client, auth, "idem-1") == [("customer", "two"), ("bot", "first"), ("bot", "second")]
    # The body's client_id works as the key too; the same key for another message is a conflict.
    conflict = await client.post("/api/v1/messages", json={**body, "text": "something else"}, headers=headers)
    assert conflict.status == 409 and (await conflict.json())["error"]["code"] == "idempotency_conflict"
    again = {"conversation_id": "idem-1", "text": "hi", "client_id": "c-7"}
    first, second = [await client.post("/api/v1/messages", json=again, headers=auth) for _ in range(2)]
    assert await first.json() == await second.json() and len(fake.received) == 2


async def test_without_a_key_each_post_is_its_own_turn(gateway: Gateway, auth: dict[str, str]) -> None:
    client, fake = gateway
    for _ in range(2):
        response = await client.post("/api/v1/messages", json={"conversation_id": "free-1", "text": "hi"}, headers=auth)
        assert response.status == 200
    assert len(fake.received) == 2


async def test_a_turn_longer_than_the_wait_is_answered_later(
    fake_rasa: tuple[FakeRasa, Any], auth: dict[str, str]
) -> None:
    """The request says 202; the reply is stored all the same and read by cursor."""
    from aiohttp.test_utils import TestServer

    from bot.db.migrate import upgrade
    from bot.gateway.app import create_app

    fake, settings = fake_rasa
    fake.delay_s = 1.0
    tuned = settings.with_overrides(limits={"turn_wait_s": 0.2})
    upgrade(tuned.database_url)
    client = TestClient(TestServer(create_app(tuned), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        response = await client.post(
            "/api/v1/messages", json={"conversation_id": "slow-1", "text": "hello"}, headers=auth
        )
        assert response.status == 202
        assert await response.json() == {"replies": [], "handoff": None, "status": "processing"}
        for _ in range(50):
            if ("bot", "you said: hello") in await _messages(client, auth, "slow-1"):
                break
            await asyncio.sleep(0.1)
        assert await _messages(client, auth, "slow-1") == [("customer", "hello"), ("bot", "you said: hello")]
    finally:
        await client.close()
