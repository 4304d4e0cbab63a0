"""Two gateway replicas on one database and the real Redis: an agent's reply sent through one reaches
the customer's widget held by the other, and a claim made on one is seen on both (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent
from bot.gateway.app import create_app
from bot.handoff.agents import AgentCredentials
from bot.handoff.requests import HandoffRequests
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.shared_services import RedisForRun

AGENT = {"Authorization": "Bearer token-of-AG-01"}


@pytest.fixture
async def replicas(
    fake_rasa: tuple[FakeRasa, Settings], migrated_database_url: str, redis_service: RedisForRun
) -> AsyncIterator[tuple[TestClient, TestClient, Settings]]:
    _, base = fake_rasa
    shared = base.with_overrides(
        database_url=migrated_database_url,
        services={"redis_url": redis_service.url, "redis_prefix": redis_service.prefix},
    )
    engine = create_db_engine(migrated_database_url)
    try:
        with session_factory(engine).begin() as session:
            session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
        assert AgentCredentials(engine).register("AG-01", "token-of-AG-01")
    finally:
        engine.dispose()
    clients = []
    for replica in ("gw-a", "gw-b"):
        app = create_app(shared.with_overrides(gateway={"replica_id": replica}))
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
    try:
        yield clients[0], clients[1], shared
    finally:
        for client in clients:
            await client.close()


async def _frames_until(ws: Any, wanted: Any, limit: int = 20) -> list[dict[str, Any]]:
    frames = []
    for _ in range(limit):
        frame = await ws.receive_json(timeout=10)
        frames.append(frame)
        if wanted(frame):
            return frames
    raise AssertionError(f"not received: {frames}")


async def test_an_agent_reply_through_one_replica_reaches_the_widget_on_the_other(
    replicas: tuple[TestClient, TestClient, Settings],
) -> None:
    a, b, settings = replicas
    ws = await a.ws_connect("/ws")
    await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
    welcome = await ws.receive_json(timeout=5)
    conversation_id = welcome["conversation_id"]
    await ws.send_json({"type": "message", "text": "hello", "client_id": "m1"})
    await _frames_until(ws, lambda f: f == {"type": "typing", "on": False})

    engine = create_db_engine(settings.database_url)
    try:
        ref, _ = HandoffRequests(engine).request(conversation_id, "customer_request", {"summary": "x"}, "web")
    finally:
        engine.dispose()
    assert (await b.post(f"/api/v1/handoffs/{ref.id}/claim", json={}, headers=AGENT)).status == 200
    seen_on_a = await (await a.get(f"/api/v1/handoffs/{ref.id}", headers=AGENT)).json()
    assert seen_on_a["status"] == "claimed"  # claimed on B, claimed on A
    reply = await b.post(f"/api/v1/handoffs/{ref.id}/messages", json={"text": "Lena here, on it."}, headers=AGENT)
    assert reply.status == 201

    frames = await _frames_until(ws, lambda f: f.get("type") == "message" and f.get("sender") == "agent")
    agent_frames = [f for f in frames if f.get("sender") == "agent"]
    assert [f["text"] for f in agent_frames] == ["Lena here, on it."]
    await ws.close()
