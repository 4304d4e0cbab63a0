"""End to end: what opens a handoff without the customer asking, and what the agent then sees.

While a handoff is open the gateway no longer sends customer messages to Rasa, so each
scenario uses its own conversation and asserts on the turn that opens the handoff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.test_guides import OPENERS, _handoff_packet
from tests.e2e.test_records import ALICE, NONEXISTENT_ORDER, token_for
from tests.stack import RunningStack, buttons, joined, say

pytestmark = pytest.mark.e2e

GIBBERISH = ("my neighbour's dog is loud", "the quarterly synergy report")  # both below the NLU threshold


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_low_confidence_twice_hands_over(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    conversation = "trig-low-confidence"
    first = await say(session, stack, conversation, GIBBERISH[0])
    assert first["handoff"] is None, first
    assert buttons(first).get("Talk to a person") == "/request_human", first
    second = await say(session, stack, conversation, GIBBERISH[1])
    assert second["handoff"] is not None, second
    packet: dict[str, Any] = _handoff_packet(stack, conversation)
    assert packet["reason"] == "low_confidence"
    said = [line["text"] for line in packet["transcript"] if line["sender"] == "customer"]
    assert said == list(GIBBERISH)
    assert [item["text"] for item in packet["intents"]] == list(GIBBERISH)
    assert packet["intents"][-1]["ranking"][0]["intent"] == "nlu_fallback"
    assert 1 < len(packet["intents"][-1]["ranking"]) <= 3
    assert GIBBERISH[1] in packet["summary"] and packet["customer"] is None


@pytest.mark.parametrize(
    ("conversation", "text"),
    [("trig-shouting", "WHY IS MY INTERNET NOT WORKING"), ("trig-bangs", "where is my refund!!!")],
)
async def test_frustration_hands_over(
    conversation: str, text: str, stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    reply = await say(session, stack, conversation, text)
    assert reply["handoff"] is not None, reply
    assert "sorry" in joined(reply).lower(), reply
    packet = _handoff_packet(stack, conversation)
    assert packet["reason"] == "frustration"
    assert packet["frustration_signal"] in ("shouting", "punctuation")


async def test_a_person_mid_guide_gets_the_path_and_pauses_the_guide(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    conversation = "trig-guide-person"
    await say(session, stack, conversation, OPENERS["wifi_drops"])
    await say(session, stack, conversation, '/diag_choose{"option":"1"}')
    reply = await say(session, stack, conversation, "talk to a person")
    assert reply["handoff"] is not None, reply
    packet = _handoff_packet(stack, conversation)
    assert packet["reason"] == "customer_request"
    assert packet["troubleshooting"]["guide"] == "wifi_drops"
    assert len(packet["troubleshooting"]["path"]) == 1
    assert "guide" in packet["summary"]
    tracker = await _tracker(session, stack, conversation)
    assert tracker["slots"]["diag_active"] is None
    assert tracker["slots"]["diag_paused"][0]["guide"] == "wifi_drops"


async def test_three_wrong_order_numbers_hand_over(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    conversation = "trig-form-failed"
    token = token_for(ALICE.id)
    await say(session, stack, conversation, "track my order please", token)
    await say(session, stack, conversation, NONEXISTENT_ORDER, token)
    await say(session, stack, conversation, "12345", token)
    third = await say(session, stack, conversation, NONEXISTENT_ORDER, token)
    assert third["handoff"] is not None, third
    packet = _handoff_packet(stack, conversation)
    assert packet["reason"] == "form_failed"
    assert packet["customer"]["id"] == ALICE.id and packet["customer"]["summary"]["orders"] >= 1


async def _tracker(session: aiohttp.ClientSession, stack: RunningStack, conversation: str) -> dict[str, Any]:
    url = f"{stack.rasa_url}/conversations/{conversation}/tracker"
    async with session.get(url, params={"token": stack.rasa_token}) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_agent_hands_back_mid_guide_and_the_bot_resumes_the_step(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    from bot.diagnostics.engine import option_payload
    from tests.e2e.test_guides import GUIDES, step_text

    conversation = "trig-hand-back"
    wifi = GUIDES["wifi_drops"]
    await say(session, stack, conversation, OPENERS["wifi_drops"])
    await say(session, stack, conversation, option_payload(1))  # a router -> the status LED step
    opened = await say(session, stack, conversation, "can I talk to a real person")
    handoff_id = opened["handoff"]["id"]
    agent = {"Authorization": f"Bearer {stack.issue_agent_token('AG-02')}"}  # Tomás's own token
    base = f"{stack.gateway_url}/api/v1/handoffs/{handoff_id}"
    async with session.post(f"{base}/claim", headers=agent) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["agent_id"] == "AG-02"
    async with session.post(f"{base}/messages", json={"text": "Let's finish the checks."}, headers=agent) as response:
        assert response.status == 201
    async with session.post(f"{base}/hand-back", headers=agent) as response:
        assert response.status == 200, await response.text()
        closed = await response.json()
    assert any(step_text(wifi, "status_led") in reply["text"] for reply in closed["bot_replies"]), closed
    answer = await say(session, stack, conversation, "blinking orange")
    assert answer["handoff"] is None
    assert step_text(wifi, "internet_down") in joined(answer), answer
