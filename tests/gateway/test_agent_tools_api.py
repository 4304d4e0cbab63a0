"""The agent API's desk tools on the real gateway (fake Rasa): presence, offers, notes, tags, transfer,
canned replies, search and the customer view, with every kind of bad input answered clearly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent, Conversation, Customer, Message, Sender, utcnow
from bot.gateway.keys import HANDOFFS
from bot.handoff.agents import AgentCredentials
from bot.handoff.requests import HandoffRequests
from bot.handoff.routing import load_routing
from bot.settings import PROJECT_ROOT
from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]
RULES = load_routing(PROJECT_ROOT / "data" / "routing.yml")


def as_agent(agent: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-of-{agent}"}


@pytest.fixture
def handoff(gateway: Gateway, settings: Any) -> int:
    """Two billing agents (one German-speaking, capacity 1), a verified customer's open billing handoff."""
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            session.add(
                Agent(id="AG-01", name="Lena Hoffmann", email="l@example.com", skills=["billing"], languages=["de"])
            )
            session.add(Agent(id="AG-02", name="Priya Nair", email="p@example.com", skills=["billing"], capacity=1))
            session.add(Customer(id="C9", name="Mia Braun", email="mia@example.com"))
            session.flush()
            session.add(Conversation(id="c-h", channel="web", customer_id="C9"))
            session.flush()
            session.add(Message(conversation_id="c-h", sender=Sender.CUSTOMER, text="my invoice NN-77 is wrong"))
        for agent in ("AG-01", "AG-02"):
            assert AgentCredentials(engine).register(agent, f"token-of-{agent}")
        packet = {
            "reason": "customer_request",
            "language": "de",
            "known": {"order": "NN-77"},
            "intents": [{"ranking": [{"intent": "billing_question"}]}],
        }
        ref, _ = HandoffRequests(engine, RULES).request("c-h", "customer_request", packet, "web")
        return ref.id
    finally:
        engine.dispose()


async def call(client: TestClient, method: str, path: str, agent: str = "AG-01", body: Any = None) -> tuple[int, Any]:
    resp = await client.request(method, f"/api/v1/{path}", json=body, headers=as_agent(agent))
    return resp.status, await resp.json()


async def test_presence_offers_and_decline(gateway: Gateway, handoff: int) -> None:
    client, _ = gateway
    status, me = await call(client, "GET", "agents/me")
    assert status == 200 and (me["presence"], me["load"], me["skills"]) == ("offline", 0, ["billing"])
    assert (await call(client, "PUT", "agents/me/presence", body={"status": "busy"}))[0] == 400
    assert (await call(client, "PUT", "agents/me/presence", body=["online"]))[0] == 400
    for agent in ("AG-01", "AG-02"):
        status, me = await call(client, "PUT", "agents/me/presence", agent, {"status": "online"})
        assert status == 200 and me["presence"] == "online"
    # The handoff opened before anyone was online (and no turn announced it): the router's check offers it
    # now, to the German speaker.
    await client.app[HANDOFFS].router.check(utcnow() + dt.timedelta(seconds=3))
    status, offers = await call(client, "GET", "offers")
    assert [o["id"] for o in offers["offers"]] == [handoff]
    assert offers["offers"][0]["queue"] == "billing" and offers["offers"][0]["language"] == "de"
    status, refused = await call(client, "POST", f"handoffs/{handoff}/claim", "AG-02")
    assert (status, refused["error"]["code"]) == (409, "offered_to_another")
    status, refused = await call(client, "POST", f"handoffs/{handoff}/decline", "AG-02")
    assert (status, refused["error"]["code"]) == (409, "not_offered")
    status, declined = await call(client, "POST", f"handoffs/{handoff}/decline")
    assert status == 200 and declined["stage"] == "agent"
    assert [o["id"] for o in (await call(client, "GET", "offers", "AG-02"))[1]["offers"]] == [handoff]
    assert (await call(client, "POST", "handoffs/999/decline"))[0] == 404
    status, listed = await call(client, "GET", "agents")
    assert {a["id"]: a["presence"] for a in listed["agents"]} == {"AG-01": "online", "AG-02": "online"}
    status, beat = await call(client, "POST", "agents/me/heartbeat")
    assert status == 200 and beat["presence"] == "online"


async def test_notes_tags_canned_and_transfer(gateway: Gateway, handoff: int) -> None:
    client, _ = gateway
    assert (await call(client, "POST", f"handoffs/{handoff}/claim"))[0] == 200
    status, note = await call(client, "POST", f"handoffs/{handoff}/notes", body={"text": "  refund pending "})
    assert status == 201 and (note["kind"], note["text"], note["agent_id"]) == ("note", "refund pending", "AG-01")
    for bad in ({}, {"text": 5}, {"text": "   "}, {"text": "x" * 5000}):
        assert (await call(client, "POST", f"handoffs/{handoff}/notes", body=bad))[0] == 400, bad
    assert (await call(client, "POST", "handoffs/999/notes", body={"text": "x"}))[0] == 404
    status, tagged = await call(client, "PUT", f"handoffs/{handoff}/tags", body={"tags": ["VAT", "refund"]})
    assert status == 200 and tagged["tags"] == ["vat", "refund"]
    for bad in ({"tags": "vat"}, {"tags": ["no spaces please"]}, {"tags": [1]}):
        assert (await call(client, "PUT", f"handoffs/{handoff}/tags", body=bad))[0] == 400, bad
    # Canned replies, filled for this handoff.
    status, canned = await call(client, "GET", f"canned-replies?handoff_id={handoff}")
    replies = {r["id"]: r for r in canned["replies"]}
    assert replies["order_looking"]["text"].startswith("Thanks, Mia. I'm checking order NN-77 ")
    assert replies["greeting"]["missing"] == [] and "this is Lena from Nimbus" in replies["greeting"]["text"]
    assert replies["device_reset"]["missing"] == ["device"]
    assert (await call(client, "GET", "canned-replies?handoff_id=abc"))[0] == 400
    assert (await call(client, "GET", "canned-replies?handoff_id=999"))[0] == 404
    status, sent = await call(client, "POST", f"handoffs/{handoff}/messages", body={"canned_reply": "order_looking"})
    assert status == 201 and sent["text"] == replies["order_looking"]["text"] and sent["sender"] == "agent"
    status, error = await call(client, "POST", f"handoffs/{handoff}/messages", body={"canned_reply": "device_reset"})
    assert (status, error["error"]["code"]) == (409, "unfilled_placeholders")
    status, error = await call(client, "POST", f"handoffs/{handoff}/messages", body={"canned_reply": "nope"})
    assert (status, error["error"]["code"]) == (404, "unknown_canned_reply")
    assert (await call(client, "POST", f"handoffs/{handoff}/messages", body={"canned_reply": 3}))[0] == 400
    # Transfer: bad bodies, an offline or full colleague, then a queue.
    for bad in ({}, {"to_agent": "AG-02", "queue": "billing"}, {"to_agent": 2}, {"queue": "billing", "note": 1}):
        assert (await call(client, "POST", f"handoffs/{handoff}/transfer", body=bad))[0] == 400, bad
    status, error = await call(client, "POST", f"handoffs/{handoff}/transfer", body={"to_agent": "AG-02"})
    assert (status, error["error"]["code"]) == (409, "agent_unavailable")  # offline
    status, error = await call(client, "POST", f"handoffs/{handoff}/transfer", body={"queue": "nowhere"})
    assert (status, error["error"]["code"]) == (400, "unknown_queue")
    status, error = await call(client, "POST", f"handoffs/{handoff}/transfer", body={"to_agent": "AG-77"})
    assert (status, error["error"]["code"]) == (404, "unknown_agent")
    status, error = await call(client, "POST", f"handoffs/{handoff}/transfer", "AG-02", {"queue": "general"})
    assert (status, error["error"]["code"]) == (409, "not_yours")
    await call(client, "PUT", "agents/me/presence", "AG-02", {"status": "away"})
    status, moved = await call(client, "POST", f"handoffs/{handoff}/transfer", body={"agent_id": "AG-02"})
    assert status == 200 and (moved["status"], moved["agent_id"]) == ("claimed", "AG-02")
    status, moved = await call(client, "POST", f"handoffs/{handoff}/transfer", "AG-02", {"queue": "general"})
    assert status == 200 and (moved["status"], moved["queue"], moved["stage"]) == ("open", "general", "team")
    status, detail = await call(client, "GET", f"handoffs/{handoff}")
    assert [n["kind"] for n in detail["notes"]].count("transfer") == 2
    assert detail["customer_view"]["customer"] == {"id": "C9", "name": "Mia Braun"}
    assert all("refund pending" not in m["text"] for m in detail["messages"])


async def test_search_customer_view_and_escalations(gateway: Gateway, handoff: int) -> None:
    client, _ = gateway
    for query in ("customer=C9", "customer=mia", "customer=mia@example.com", "text=INVOICE", "channel=web"):
        status, found = await call(client, "GET", f"conversations?{query}")
        assert status == 200 and [c["id"] for c in found["conversations"]] == ["c-h"], query
    status, found = await call(client, "GET", "conversations?order=nn-77")
    assert [c["id"] for c in found["conversations"]] == ["c-h"]
    assert found["conversations"][0]["handoff_ids"] == [handoff]
    assert (await call(client, "GET", "conversations?text=refund%25"))[1]["conversations"] == []  # % is literal
    for bad in ("", "since=yesterday", "channel=fax"):
        assert (await call(client, "GET", f"conversations?{bad}"))[0] == 400, bad
    status, view = await call(client, "GET", "customers/C9")
    assert (
        status == 200 and view["open_requests"][0]["id"] == handoff and view["open_requests"][0]["queue"] == "billing"
    )
    assert view["conversations"][0]["outcome"] == "waiting for an agent"
    assert (await call(client, "GET", "customers/C404"))[0] == 404
    assert (await call(client, "GET", "customers/" + "x" * 40))[0] == 404
    status, escalated = await call(client, "GET", "escalations")
    assert status == 200 and escalated["handoffs"] == []
    assert (await call(client, "GET", "handoffs?queue=nowhere"))[0] == 400
    status, listed = await call(client, "GET", "handoffs?status=open&queue=billing")
    assert [(h["id"], h["position"]) for h in listed["handoffs"]] == [(handoff, 1)]
