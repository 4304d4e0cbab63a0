"""Limits and fairness: one client or one channel cannot take the bot from everyone else (issue 14, point 6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from bot.db.migrate import upgrade
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa

Start = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def start(fake_rasa: tuple[FakeRasa, Settings]) -> AsyncIterator[Start]:
    """Start the gateway (against the fake Rasa) with some settings changed."""
    _, settings = fake_rasa
    clients: list[TestClient] = []

    async def run(**overrides: Any) -> TestClient:
        tuned = settings.with_overrides(**overrides)
        if tuned.database_url.startswith("sqlite"):
            upgrade(tuned.database_url)
        client = TestClient(TestServer(create_app(tuned), host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client

    yield run
    for client in clients:
        await client.close()


async def test_a_client_asking_too_fast_gets_429_with_retry_after(start: Start, auth: dict[str, str]) -> None:
    client = await start(limits={"api_rate_per_client": 2.0})
    statuses = []
    for _ in range(6):
        response = await client.get("/api/v1/conversations/none/messages", headers=auth)
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert (await response.json())["error"]["code"] == "rate_limited"
    assert statuses[:4] == [404] * 4 and statuses[4:] == [429, 429]  # a burst of twice the rate, then 429


async def test_widget_connections_are_capped_per_client(start: Start) -> None:
    client = await start(limits={"ws_max_per_client": 2})
    sockets = [await client.ws_connect("/ws") for _ in range(2)]
    for ws in sockets:
        await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    third = await client.ws_connect("/ws")
    assert (await third.receive_json(timeout=5))["code"] == "too_many_connections"
    closing = await third.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and third.close_code == 1013
    for ws in sockets:
        await ws.close()


async def test_the_widget_socket_only_opens_from_allowed_sites(start: Start) -> None:
    client = await start(gateway={"allowed_origins": ("https://shop.example",)})
    refused = await client.get("/ws", headers={"Origin": "https://evil.example", "Upgrade": "websocket"})
    assert refused.status == 403
    for origin in ("https://shop.example", f"http://{client.host}:{client.port}"):  # listed, and the gateway's own
        ws = await client.ws_connect("/ws", headers={"Origin": origin})
        await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        await ws.close()


async def test_a_flood_on_one_channel_does_not_starve_another(
    start: Start, fake_rasa: tuple[FakeRasa, Settings], auth: dict[str, str]
) -> None:
    """Twelve API messages at once and one widget message: at most two turns at a time, the widget's among the first."""
    fake, _ = fake_rasa
    fake.delay_s = 0.3
    client = await start(limits={"max_concurrent_turns": 2})
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    flood = [
        asyncio.create_task(
            client.post("/api/v1/messages", json={"conversation_id": f"flood-{n}", "text": f"f{n}"}, headers=auth)
        )
        for n in range(12)
    ]
    await asyncio.sleep(0.1)  # the flood is in the inbox first
    await ws.send_json({"type": "message", "text": "from the widget", "client_id": "w1"})
    responses = await asyncio.gather(*flood)
    assert [r.status for r in responses] == [200] * 12
    order = [body["message"] for body in fake.received]
    assert fake.max_in_flight <= 2
    assert order.index("from the widget") <= 3, order  # served in turn, not after the whole flood
    await ws.close()


async def test_a_database_that_is_down_gets_503_with_retry_after(start: Start, auth: dict[str, str]) -> None:
    client = await start(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    response = await client.post("/api/v1/messages", json={"conversation_id": "c-1", "text": "hi"}, headers=auth)
    assert response.status == 503 and response.headers["Retry-After"] == "5"
    assert (await response.json())["error"]["code"] == "unavailable"
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["checks"]["database"] is False
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
    assert (await ws.receive_json(timeout=10))["code"] == "unavailable"
    await ws.close()
