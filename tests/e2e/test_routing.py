"""Routing on the real stack: a German billing handoff offered to the right agent, then the team; capacity;
transfer; a canned reply with its placeholders filled; a note that never reaches the customer.

The customer talks over the direct API (their client says they speak German); agents use the agent
API with their own tokens, as the console does. The stack's offers time out after 6 s
(``BOT_OFFER_SECONDS`` in tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from bot.db.seed import load_demo_data
from bot.identity.tokens import mint_customer_token
from bot.settings import PROJECT_ROOT
from tests.stack import E2E_IDENTITY_SECRET, RunningStack

pytestmark = pytest.mark.e2e

LENA, SANNE, PRIYA = "AG-01", "AG-03", "AG-06"  # billing + de (capacity 2), billing + de, billing (en only)
DATA = load_demo_data(PROJECT_ROOT / "data")
#: A German demo customer with orders whom no other end-to-end test uses.
CUSTOMER = next(
    c
    for c in reversed(DATA.customers)
    if c.country == "DE" and c.id not in ("C1002", "C1046") and any(o.customer_id == c.id for o in DATA.orders)
)
ORDERS = sorted((o for o in DATA.orders if o.customer_id == CUSTOMER.id), key=lambda o: o.placed_at)


@pytest.fixture(scope="module")
def tokens(stack: RunningStack) -> Iterator[dict[str, str]]:
    """Agent tokens; every agent is offline again afterwards (the stack is shared by the whole run)."""
    issued = {agent: stack.issue_agent_token(agent) for agent in (LENA, SANNE, PRIYA)}
    yield issued
    import requests

    for token in issued.values():
        requests.put(
            f"{stack.gateway_url}/api/v1/agents/me/presence",
            json={"status": "offline"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90)) as client:
        yield client


class Agent:
    def __init__(self, stack: RunningStack, session: aiohttp.ClientSession, token: str) -> None:
        self.stack, self.session, self.headers = stack, session, {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        url = f"{self.stack.gateway_url}/api/v1/{path}"
        async with self.session.request(method, url, json=body, headers=self.headers) as response:
            data = await response.json()
            assert response.status == expect, (method, path, response.status, data)
            return data

    async def presence(self, status: str) -> Any:
        return await self.call("PUT", "agents/me/presence", {"status": status})


async def customer_says(
    stack: RunningStack, session: aiohttp.ClientSession, conversation: str, text: str, language: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": conversation,
        "text": text,
        "customer_token": mint_customer_token(CUSTOMER.id, E2E_IDENTITY_SECRET, ttl_s=600),
    }
    if language:
        body["language"] = language
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    async with session.post(f"{stack.gateway_url}/api/v1/messages", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def customer_sees(stack: RunningStack, session: aiohttp.ClientSession, conversation: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    url = f"{stack.gateway_url}/api/v1/conversations/{conversation}/messages?after=0"
    async with session.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        return list((await response.json())["messages"])


async def until(what: str, check: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_german_billing_handoff_is_routed_transferred_and_worked(
    stack: RunningStack, session: aiohttp.ClientSession, tokens: dict[str, str]
) -> None:
    lena, sanne, priya = (Agent(stack, session, tokens[a]) for a in (LENA, SANNE, PRIYA))

    # Lena goes online alone and takes two general requests: at her capacity of 2.
    assert (await lena.presence("online"))["presence"] == "online"
    held = []
    for n in range(2):
        conversation = f"e2e-routing-held-{n}-{time.time_ns()}"
        reply = await customer_says(stack, session, conversation, "I want to talk to a real person please")
        assert reply["handoff"] is not None, reply
        held.append(reply["handoff"]["id"])
    for handoff_id in held:
        await until("Lena's offer", lambda h=handoff_id: _offered(lena, h))
        await lena.call("POST", f"handoffs/{handoff_id}/claim")
    me = await lena.call("GET", "agents/me")
    assert (me["load"], me["capacity"]) == (2, 2)

    # Sanne (billing + German) and Priya (billing, English only) come online.
    await sanne.presence("online")
    await priya.presence("online")

    # A German-speaking customer with a billing question asks for a person.
    conversation = f"e2e-routing-de-{time.time_ns()}"
    await customer_says(stack, session, conversation, "I have a question about my invoice", language="de")
    reply = await customer_says(stack, session, conversation, "can I talk to a person please", language="de")
    assert reply["handoff"] is not None, reply
    handoff_id = reply["handoff"]["id"]

    # Offered first to Sanne: billing, German, online and under capacity (Lena is full, Priya lacks German).
    await until("the offer to Sanne", lambda: _offered(sanne, handoff_id))
    view = await sanne.call("GET", f"handoffs/{handoff_id}")
    assert (view["queue"], view["language"], view["stage"], view["offered_to"]) == ("billing", "de", "agent", SANNE)
    assert view["customer_view"]["customer"]["id"] == CUSTOMER.id
    assert not await _offered(priya, handoff_id) and not await _offered(lena, handoff_id)
    # While it is offered to Sanne, nobody else can take it.
    refused = await priya.call("POST", f"handoffs/{handoff_id}/claim", expect=409)
    assert refused["error"]["code"] == "offered_to_another"

    # Sanne lets the offer time out: the billing team gets it, and anyone may claim.
    started = time.monotonic()

    async def with_the_team() -> bool:
        return (await priya.call("GET", f"handoffs/{handoff_id}"))["stage"] == "team"

    await until("the team stage", with_the_team, timeout_s=30)
    assert time.monotonic() - started >= 2  # not at once: the offer stood for its time
    assert not await _offered(sanne, handoff_id)
    listed = await priya.call("GET", "handoffs?status=open&queue=billing")
    mine = next(h for h in listed["handoffs"] if h["id"] == handoff_id)
    assert mine["position"] >= 1 and mine["queue"] == "billing"
    await priya.call("POST", f"handoffs/{handoff_id}/claim")

    # Priya adds an internal note, then transfers to Sanne, who speaks German.
    note = "Internal: customer is German-speaking, double-check the VAT line"
    await priya.call("POST", f"handoffs/{handoff_id}/notes", {"text": note}, expect=201)
    refused = await priya.call("POST", f"handoffs/{handoff_id}/transfer", {"to_agent": LENA}, expect=409)
    assert refused["error"]["code"] == "agent_unavailable"  # Lena is at capacity
    moved = await priya.call("POST", f"handoffs/{handoff_id}/transfer", {"to_agent": SANNE, "note": "over to you"})
    assert (moved["status"], moved["agent_id"]) == ("claimed", SANNE)
    refused = await priya.call("POST", f"handoffs/{handoff_id}/messages", {"text": "hello?"}, expect=409)
    assert refused["error"]["code"] == "not_yours"

    # Sanne answers with a canned reply: the customer's name and order are filled in.
    canned = await sanne.call("GET", f"canned-replies?handoff_id={handoff_id}")
    looking = next(r for r in canned["replies"] if r["id"] == "order_looking")
    first_name = CUSTOMER.name.split()[0]
    assert looking["missing"] == []
    assert first_name in looking["text"] and ORDERS[-1].number in looking["text"]
    sent = await sanne.call("POST", f"handoffs/{handoff_id}/messages", {"canned_reply": "order_looking"}, expect=201)
    assert sent["text"] == looking["text"]
    missing = await sanne.call("POST", f"handoffs/{handoff_id}/messages", {"canned_reply": "device_reset"}, expect=409)
    assert missing["error"]["code"] == "unfilled_placeholders"

    # The customer got the canned reply, and never a note.
    seen = await until(
        "the canned reply at the customer",
        lambda: _texts_if(stack, session, conversation, looking["text"]),
    )
    assert not any(note in text or "over to you" in text for text in seen)
    detail = await sanne.call("GET", f"handoffs/{handoff_id}")
    kinds = [(n["kind"], n["text"]) for n in detail["notes"]]
    assert ("note", note) in kinds and ("note", "over to you") in kinds
    assert any(kind == "transfer" for kind, _ in kinds) and any(kind == "offer" for kind, _ in kinds)

    # Search finds the conversation by customer, by order number and by its words.
    for query in (f"customer={CUSTOMER.id}", f"order={ORDERS[-1].number}", "text=invoice&channel=direct"):
        found = await sanne.call("GET", f"conversations?{query}")
        assert conversation in [c["id"] for c in found["conversations"]], query
    await sanne.call("POST", f"handoffs/{handoff_id}/resolve")
    for handoff in held:
        await lena.call("POST", f"handoffs/{handoff}/resolve")


async def _offered(agent: Agent, handoff_id: int) -> bool:
    offers = await agent.call("GET", "offers")
    return handoff_id in [o["id"] for o in offers["offers"]]


async def _texts_if(stack: RunningStack, session: aiohttp.ClientSession, conversation: str, wanted: str) -> list[str]:
    texts = [m["text"] for m in await customer_sees(stack, session, conversation)]
    return texts if wanted in texts else []
