"""The agent API and the relay, on the real gateway with a fake Rasa."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent
from bot.handoff.agents import AgentCredentials
from bot.handoff.requests import HandoffRequests
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]
CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}


def as_agent(agent: str) -> dict[str, str]:
    """Headers with ``agent``'s own token (registered by the ``handoff`` fixture)."""
    return {"Authorization": f"Bearer token-of-{agent}"}


@pytest.fixture
def handoff(gateway: Gateway, settings: Any) -> int:
    """Two agents and a former one, each with their own token, and an open handoff on conversation c-h."""
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
            session.add(Agent(id="AG-02", name="Tomás", email="tomas@example.com"))
            session.add(Agent(id="AG-09", name="Former", email="former@example.com", active=False))
        for agent in ("AG-01", "AG-02", "AG-09"):
            assert AgentCredentials(engine).register(agent, f"token-of-{agent}")
        ref, _ = HandoffRequests(engine).request("c-h", "customer_request", {"summary": "wants a person"}, "direct")
        return ref.id
    finally:
        engine.dispose()


async def say(client: TestClient, text: str) -> dict[str, Any]:
    resp = await client.post("/api/v1/messages", json={"conversation_id": "c-h", "text": text}, headers=CUSTOMER)
    assert resp.status == 200
    return dict(await resp.json())


async def act(client: TestClient, handoff_id: int, verb: str, agent: str, **extra: Any) -> tuple[int, Any]:
    """``agent`` acts with their own token (the body names nobody)."""
    resp = await client.post(f"/api/v1/handoffs/{handoff_id}/{verb}", json=extra, headers=as_agent(agent))
    return resp.status, await resp.json()


async def test_the_bot_is_silent_while_a_handoff_is_open(gateway: Gateway, handoff: int) -> None:
    client, fake = gateway
    body = await say(client, "hello? anyone there?")
    assert body["replies"] == [] and body["handoff"] == {"id": handoff, "status": "open"}
    assert fake.received == []  # never reached the dialogue model


async def test_list_get_and_auth(gateway: Gateway, handoff: int) -> None:
    client, _ = gateway
    assert (await client.get("/api/v1/handoffs")).status == 401
    assert (await client.get("/api/v1/handoffs", headers=CUSTOMER)).status == 401
    AGENT = as_agent("AG-01")
    listed = await (await client.get("/api/v1/handoffs?status=open", headers=AGENT)).json()
    assert [h["id"] for h in listed["handoffs"]] == [handoff]
    assert listed["handoffs"][0]["summary"] == "wants a person"
    assert (await client.get("/api/v1/handoffs?status=bogus", headers=AGENT)).status == 400
    detail = await (await client.get(f"/api/v1/handoffs/{handoff}", headers=AGENT)).json()
    assert detail["packet"] == {"summary": "wants a person"} and detail["messages"] == []
    assert (await client.get("/api/v1/handoffs/999", headers=AGENT)).status == 404


async def test_two_agents_claiming_at_once_exactly_one_wins(gateway: Gateway, handoff: int) -> None:
    client, _ = gateway
    results = await asyncio.gather(*(act(client, handoff, "claim", agent) for agent in ("AG-01", "AG-02") * 3))
    statuses = [status for status, _ in results]
    winners = {body["agent_id"] for status, body in results if status == 200}
    assert len(winners) == 1, results
    assert set(statuses) <= {200, 409}
    assert (await act(client, handoff, "claim", "AG-09"))[0] == 403  # inactive agent
    # Claiming with no body at all: the token is enough.
    resp = await client.post(f"/api/v1/handoffs/{handoff}/claim", headers=as_agent(winners.pop()))
    assert resp.status == 200 and (await resp.json())["status"] == "claimed"


async def test_relay_both_ways_in_order_then_resolve_hands_back_to_the_bot(gateway: Gateway, handoff: int) -> None:
    client, fake = gateway
    assert (await act(client, handoff, "messages", "AG-01", text="hi"))[0] == 409  # must claim first
    assert (await act(client, handoff, "claim", "AG-01"))[0] == 200
    assert (await act(client, handoff, "messages", "AG-02", text="me too"))[0] == 409  # not the holder
    for text in ("Hi, I'm Lena.", "Let me check that."):
        status, sent = await act(client, handoff, "messages", "AG-01", text=text)
        assert status == 201 and sent["sender"] == "agent"
    await say(client, "thanks Lena")
    assert (await act(client, handoff, "resolve", "AG-02"))[0] == 409
    status, closed = await act(client, handoff, "resolve", "AG-01")
    assert status == 200 and closed["status"] == "resolved"
    assert fake.triggered == [("c-h", "handoff_resolved")]
    assert [r["text"] for r in closed["bot_replies"]] == ["triggered handoff_resolved"]
    listed = await (await client.get("/api/v1/conversations/c-h/messages", headers=CUSTOMER)).json()
    assert [(m["sender"], m["text"]) for m in listed["messages"]] == [
        ("agent", "Hi, I'm Lena."),
        ("agent", "Let me check that."),
        ("customer", "thanks Lena"),
        ("bot", "triggered handoff_resolved"),
    ]
    back = await say(client, "one more question")
    assert back["handoff"] is None and back["replies"]  # the bot answers again
    assert (await act(client, handoff, "resolve", "AG-01"))[0] == 409


async def test_hand_back_asks_the_bot_to_resume(gateway: Gateway, handoff: int) -> None:
    client, fake = gateway
    await act(client, handoff, "claim", "AG-02")
    status, _ = await act(client, handoff, "hand-back", "AG-02")
    assert status == 200 and fake.triggered == [("c-h", "handoff_handed_back")]


async def test_agent_replies_reach_the_widget(gateway: Gateway, handoff: int, settings: Any) -> None:
    client, _ = gateway
    engine = create_db_engine(settings.database_url)
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello"})
    conversation = (await ws.receive_json(timeout=5))["conversation_id"]
    try:
        ref, _ = HandoffRequests(engine).request(conversation, "customer_request", {}, "web")
    finally:
        engine.dispose()
    await act(client, ref.id, "claim", "AG-01")
    await act(client, ref.id, "messages", "AG-01", text="Hello from a person")
    frame = await ws.receive_json(timeout=5)
    assert frame["type"] == "message" and frame["sender"] == "agent"
    assert frame["text"] == "Hello from a person"
    await ws.close()
