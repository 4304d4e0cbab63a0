"""Routing in the Slack desk, end to end: presence from `/support`, an offer by DM, a note, a canned reply, a transfer.

Real stack (Rasa, action server, gateway with its router and Slack desk); a verified customer on the
web widget's WebSocket; Slack as the session's fake Web API plus signed slash commands, button
presses and thread replies to ``/slack/events``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.identity import mint_customer_token
from tests.fakes.slack import (
    FORM,
    FakeSlack,
    button_press,
    offer_button_press,
    offer_ts_of,
    root_ts_of,
    signed_headers,
    slash_command,
    thread_reply,
)
from tests.stack import E2E_IDENTITY_SECRET, E2E_SLACK_SIGNING_SECRET, RunningStack

pytestmark = [pytest.mark.e2e]

# data/agents.yml: Lena Hoffmann (AG-01), Sanne (AG-03) and Priya (AG-06) work billing; Tomás Ribeiro (AG-02) does not.
LENA, TOMAS = "U0AGENT01", "U0AGENT02"
OTHER_BILLING = ("U0AGENT03", "U0AGENT06")
#: A demo customer (data/records/customers.csv) no other end-to-end test writes as.
CUSTOMER = "C1046"
NOTE = "double charge on the 3rd confirmed in the PSP dashboard"
_ids = itertools.count(1)


async def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Desk:
    """Slack requests to the stack, signed as Slack signs them; the agent API as Lena."""

    def __init__(self, stack: RunningStack, slack: FakeSlack, session: aiohttp.ClientSession) -> None:
        self.stack, self.slack, self.session = stack, slack, session

    async def post(self, body: str, content_type: str) -> aiohttp.ClientResponse:
        headers = signed_headers(body, E2E_SLACK_SIGNING_SECRET, content_type)
        response = await self.session.post(
            f"{self.stack.gateway_url}/slack/events", data=body.encode(), headers=headers
        )
        assert response.status == 200, await response.text()
        return response

    async def command(self, user: str, text: str) -> str:
        """``/support <text>`` typed by ``user``: the ephemeral answer."""
        response = await self.post(slash_command(user, text), FORM)
        body = await response.json()
        assert body.get("response_type") == "ephemeral", body
        return str(body["text"])

    async def reply(self, user: str, text: str, root_ts: str) -> str:
        ts = f"{int(time.time())}.{next(_ids):06d}"
        await self.post(thread_reply(user, text, root_ts, f"EvRoute{uuid.uuid4().hex[:12]}", ts), "application/json")
        return ts

    async def handoff(self, handoff_id: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.stack.agent_token}"}
        async with self.session.get(f"{self.stack.gateway_url}/api/v1/handoffs/{handoff_id}", headers=headers) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())

    async def handoff_of(self, conversation: str) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self.stack.agent_token}"}
        async with self.session.get(f"{self.stack.gateway_url}/api/v1/handoffs?status=open", headers=headers) as r:
            listed = (await r.json())["handoffs"]
        return next((h for h in listed if h["conversation_id"] == conversation), None)

    def thread(self, root_ts: str) -> list[str]:
        return [str(c.get("text")) for c in self.slack.called("chat.postMessage") if c.get("thread_ts") == root_ts]


class Widget:
    """A verified customer's web chat over the widget's WebSocket, collecting every frame."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def pump(self) -> None:
        async for frame in self.ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(frame.json())

    async def say(self, text: str) -> None:
        await self.ws.send_json({"type": "message", "text": text, "client_id": str(uuid.uuid4())})

    def said_by(self, sender: str) -> list[str]:
        return [f["text"] for f in self.frames if f.get("type") == "message" and f.get("sender") == sender]


async def test_presence_offer_accept_note_canned_and_transfer_in_slack(
    stack: RunningStack, slack_api: tuple[FakeSlack, str]
) -> None:
    slack, _ = slack_api
    async with aiohttp.ClientSession() as session:
        desk = Desk(stack, slack, session)
        try:
            await _work_a_billing_handoff_in_slack(stack, desk, session)
        finally:
            # Later tests expect new handoffs to go straight to the channel: nobody stays online.
            for user in (LENA, TOMAS):
                await desk.command(user, "offline")
    assert slack.unknown == [], slack.unknown


async def _work_a_billing_handoff_in_slack(stack: RunningStack, desk: Desk, session: aiohttp.ClientSession) -> None:
    slack = desk.slack
    # 1. Lena goes online from Slack; the other billing agents are not (the offer must be hers).
    for user in OTHER_BILLING:
        assert await desk.command(user, "offline") == "You are now offline."
    assert await desk.command(LENA, "online") == "You are now online."
    status = await desk.command(LENA, "status")
    assert status.startswith("You are online and hold "), status

    # 2. A verified customer asks about a double charge, then for a person: a billing handoff.
    token = mint_customer_token(CUSTOMER, E2E_IDENTITY_SECRET, ttl_s=900)
    ws = await session.ws_connect(f"{stack.gateway_url.replace('http', 'ws')}/ws")
    widget = Widget(ws)
    pump = asyncio.get_running_loop().create_task(widget.pump())
    try:
        await ws.send_json({"type": "hello", "conversation_id": None, "after": None, "customer_token": token})
        welcome = await wait_for(
            "the welcome", lambda: next((f for f in widget.frames if f["type"] == "welcome"), None)
        )
        conversation = welcome["conversation_id"]
        await widget.say("i was charged twice this month")
        await wait_for("the bot's answer", lambda: widget.said_by("bot"))
        await widget.say("I want to talk to a person")
        handoff = await wait_for("the handoff", lambda: desk.handoff_of(conversation))
        handoff_id = int(handoff["id"])
        assert handoff["queue"] == "billing", handoff

        # 3. Offered to Lena by DM with Accept / Decline; nothing in the agents' channel yet.
        offer_ts = await wait_for("the offer DM", lambda: offer_ts_of(slack, handoff_id, LENA))
        assert root_ts_of(slack, handoff_id) is None
        assert (await desk.handoff(handoff_id))["offered_to"] == "AG-01"
        await desk.post(offer_button_press("offer_accept", LENA, handoff_id, offer_ts), FORM)
        await wait_for("Lena's claim", lambda: _holder(desk, handoff_id, "AG-01"))
        root_ts = await wait_for("the root message, claimed", lambda: root_ts_of(slack, handoff_id))
        await wait_for(
            "the offer edited",
            lambda: any(
                c["ts"] == offer_ts and "Claimed by Lena" in str(c.get("blocks")) for c in slack.called("chat.update")
            ),
        )

        # 4. An internal note in the thread: stored, confirmed with a reaction, never sent.
        note_ts = await desk.reply(LENA, f"note: {NOTE}", root_ts)
        await wait_for("the note's reaction", lambda: any(r[1] == note_ts for r in slack.reactions))

        # 5. A canned reply that this handoff can fill (the verified customer's name is known).
        listing = await desk.command(LENA, f"canned {handoff_id}")
        fillable = [line.split("`")[1] for line in listing.splitlines()[1:] if "(needs" not in line]
        assert fillable, listing
        await desk.reply(LENA, f"canned:{fillable[0]}", root_ts)
        [canned] = await wait_for("the canned reply in the chat", lambda: widget.said_by("agent"))
        assert "{" not in canned and canned
        await wait_for(
            "the canned reply in the thread", lambda: any("sent the canned reply" in t for t in desk.thread(root_ts))
        )
        assert not any(NOTE in str(frame) for frame in widget.frames)  # the note never reached the customer
        details = await desk.handoff(handoff_id)
        assert NOTE in [n["text"] for n in details["notes"] if n["kind"] == "note"], details["notes"]
        assert all(NOTE not in (m.get("text") or "") for m in details["messages"]), details["messages"]

        # 6. Lena transfers it to Tomás, who is online: he holds it, the thread and the root say so.
        assert await desk.command(TOMAS, "online") == "You are now online."
        assert await desk.command(LENA, f"transfer {handoff_id} AG-02 needs a hardware check") == (
            f"Handoff #{handoff_id} is now with Tomás Ribeiro."
        )
        await wait_for("Tomás holding it", lambda: _holder(desk, handoff_id, "AG-02"))
        await wait_for("the transfer in the thread", lambda: any(f"<@{TOMAS}>" in t for t in desk.thread(root_ts)))
        assert widget.said_by("agent") == [canned]  # nothing else reached the customer

        # Tomás resolves it in Slack (the bot asks for a score).
        await desk.post(button_press("handoff_resolve", TOMAS, handoff_id, root_ts), FORM)
        await wait_for("the handoff resolved", lambda: _status(desk, handoff_id, "resolved"))
    finally:
        await ws.close()
        pump.cancel()


async def _holder(desk: Desk, handoff_id: int, agent_id: str) -> bool:
    return (await desk.handoff(handoff_id)).get("agent_id") == agent_id


async def _status(desk: Desk, handoff_id: int, status: str) -> bool:
    return (await desk.handoff(handoff_id)).get("status") == status
