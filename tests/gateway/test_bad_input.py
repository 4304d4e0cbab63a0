"""Bad input never gets a 5xx, and every documented WebSocket rule holds (issue 14, point 5)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from bot.db.engine import session_factory
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("[" * 10_000 + "]" * 10_000, "invalid_json"),  # was a 500 (RecursionError)
        ('{"conversation_id": "c-1", "text": "\\ud800"}', "invalid_json"),  # was a 500 (UnicodeEncodeError)
        ('{"conversation_id": "c-1", "text": {"a": ' * 40 + "1" + "}" * 40 + "}", "invalid_json"),
        ('{"conversation_id": "c-1", "text": "hi", "client_id": "not a key!"}', "invalid_idempotency_key"),
        ('{"conversation_id": "c-1", "text": "hi", "client_id": 7}', "invalid_idempotency_key"),
    ],
    ids=["nested-10000-deep", "lone-surrogate", "nested-41-deep", "bad-key", "key-not-a-string"],
)
async def test_hostile_bodies_are_400s(gateway: Gateway, auth: dict[str, str], body: str, code: str) -> None:
    client, fake = gateway
    response = await client.post("/api/v1/messages", data=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == code
    assert fake.received == []


async def test_agent_api_bodies_are_checked_the_same_way(gateway: Gateway) -> None:
    from bot.db.models import Agent
    from bot.gateway.keys import AGENTS, ENGINE

    client, _ = gateway
    with session_factory(client.server.app[ENGINE]).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
    assert client.server.app[AGENTS].register("AG-01", "token-of-AG-01")
    agent = {"Authorization": "Bearer token-of-AG-01", "Content-Type": "application/json"}
    response = await client.post("/api/v1/handoffs/1/messages", data="[" * 5000, headers=agent)
    assert response.status == 400


async def _hello(client: TestClient) -> Any:
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return ws


async def test_a_nested_or_unstorable_frame_is_refused_and_the_socket_stays(gateway: Gateway) -> None:
    client, fake = gateway
    ws = await _hello(client)
    await ws.send_str("[" * 10_000 + "]" * 10_000)  # used to drop the connection
    assert (await ws.receive_json(timeout=5))["code"] == "bad_frame"
    await ws.send_str('{"type": "message", "text": "\\ud800", "client_id": "m1"}')
    assert (await ws.receive_json(timeout=5))["code"] == "bad_frame"
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json(timeout=5) == {"type": "pong"}
    assert not ws.closed and fake.received == []
    await ws.close()


@pytest.mark.parametrize(
    "hello",
    [
        {"type": "hello", "conversation_id": None, "after": "abc"},
        {"type": "hello", "conversation_id": None, "after": -5},
        {"type": "hello", "conversation_id": 7, "after": 0},
        {"type": "hello", "conversation_id": "not an id!", "after": 0},
    ],
    ids=["after-text", "after-negative", "id-number", "id-malformed"],
)
async def test_a_malformed_hello_is_closed_as_documented(gateway: Gateway, hello: dict[str, Any]) -> None:
    client, _ = gateway
    ws = await client.ws_connect("/ws")
    await ws.send_json(hello)
    frame = await ws.receive_json(timeout=5)
    assert (frame["type"], frame["code"]) == ("error", "bad_frame")  # not a welcome
    closing = await ws.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and ws.closed


async def test_a_vanished_client_leaves_no_unretrieved_task_errors(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's keep-alive ping on a socket whose peer vanished ends quietly."""
    from bot.channels import web as web_channel

    monkeypatch.setattr(web_channel, "PING_INTERVAL_S", 0.1)
    caplog.set_level(logging.ERROR)
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    try:
        client, _ = gateway
        ws = await _hello(client)
        transport = ws._response.connection.transport  # the peer vanishes: no close frame
        transport.abort()
        await asyncio.sleep(0.5)  # several pings
        import gc

        gc.collect()
        await asyncio.sleep(0.1)
    finally:
        loop.set_exception_handler(previous)
    assert unretrieved == []
    assert "Task exception was never retrieved" not in caplog.text
