"""The Slack desk with routing: offers by DM, `/support`, the App Home, notes, canned replies, tags, transfers.

The real gateway (its router, handoff service and Slack desk) against the fake Slack Web API, with
signed Events API, interactivity and slash-command requests, as tests/agentdesk/test_slack.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine

from bot.agentdesk.commands import parse_shortcut
from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent
from bot.gateway.keys import HANDOFFS, SLACK_DESK
from bot.handoff.events import HandoffOpened
from bot.handoff.requests import HandoffRequests
from bot.handoff.routing import load_routing
from bot.handoff.service import HandoffService
from bot.settings import PROJECT_ROOT, Settings
from tests.agentdesk.test_slack import SECRET, desk_posts, post_signed, start_gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import (
    CHANNEL_ID,
    FORM,
    FakeSlack,
    button_press,
    dm_channel_of,
    home_button_press,
    home_opened_event,
    offer_button_press,
    offer_ts_of,
    root_ts_of,
    slash_command,
    thread_reply,
)

LENA, TOMAS, NOBODY = "U0AGENT01", "U0AGENT02", "U0NOBODY"
CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}
#: A failed payment: the billing queue (data/routing.yml), in German, about a known order and device.
BILLING_PACKET = {
    "summary": "card declined twice",
    "language": "de",
    "troubleshooting": {"guide": "payment_failed"},
    "known": {"order": "NB-100234", "device": "Velo AX3000"},
}
_ids = itertools.count(1)


@dataclass
class Routed:
    """The running gateway with Lena (billing, German) and Tomás (hardware) on Slack; both offline."""

    client: TestClient
    slack: FakeSlack
    engine: Engine
    settings: Settings

    @property
    def service(self) -> HandoffService:
        return self.client.server.app[HANDOFFS]

    async def drain(self) -> None:
        await self.client.server.app[SLACK_DESK].drain()

    async def open_handoff(self, conversation: str, packet: dict[str, Any] | None = None) -> int:
        """A new handoff, announced the way the customer turn does (the router decides where it goes)."""
        rules = load_routing(PROJECT_ROOT / "data" / "routing.yml")
        ref, _ = HandoffRequests(self.engine, rules).request(
            conversation, "customer_request", packet or BILLING_PACKET, "direct"
        )
        await self.service.events.publish(HandoffOpened(ref.id, conversation))
        await self.drain()
        return ref.id

    async def command(self, user: str, text: str) -> str:
        """``/support <text>`` typed by ``user``; the ephemeral answer (the acknowledgement's body)."""
        resp = await post_signed(self.client, slash_command(user, text), FORM)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        await self.drain()
        assert body.get("response_type") == "ephemeral", body
        return str(body["text"])

    async def press(self, body: str) -> None:
        resp = await post_signed(self.client, body, FORM)
        assert resp.status == 200, await resp.text()
        await self.drain()

    async def reply(self, user: str, text: str, thread_ts: str, *, channel: str = CHANNEL_ID) -> str:
        """``user`` replied ``text`` in a thread; the ts of that reply."""
        ts = f"1700000900.{next(_ids):06d}"
        body = thread_reply(user, text, thread_ts, f"EvR{next(_ids):08d}", ts, channel=channel)
        resp = await post_signed(self.client, body, "application/json")
        assert resp.status == 200
        await self.drain()
        return ts

    async def transcript(self, conversation: str) -> list[tuple[str, str]]:
        resp = await self.client.get(f"/api/v1/conversations/{conversation}/messages", headers=CUSTOMER)
        return [(m["sender"], m["text"]) for m in (await resp.json())["messages"]]

    def root(self, handoff_id: int) -> str:
        ts = root_ts_of(self.slack, handoff_id)
        assert ts is not None, "no root message in the agents' channel"
        return ts

    def thread(self, thread_ts: str) -> list[str]:
        return [str(c["text"]) for c in self.slack.called("chat.postMessage") if c.get("thread_ts") == thread_ts]

    def updates(self, ts: str) -> list[dict[str, Any]]:
        return [c for c in self.slack.called("chat.update") if c["ts"] == ts]

    def ephemerals(self, user: str) -> list[str]:
        return [str(c["text"]) for c in self.slack.called("chat.postEphemeral") if c["user"] == user]


@pytest.fixture
async def routed(fake_rasa: tuple[FakeRasa, Settings], slack: tuple[FakeSlack, str]) -> AsyncIterator[Routed]:
    from bot.db.migrate import upgrade

    _, base = fake_rasa
    fake_slack, api_url = slack
    settings = base.with_overrides(
        slack={
            "bot_token": "xoxb-test-token",
            "signing_secret": SECRET,
            "agents_channel": "#support-agents",
            "api_url": api_url,
        }
    )
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    with session_factory(engine).begin() as session:
        session.add(
            Agent(
                id="AG-01",
                name="Lena",
                email="lena@example.com",
                slack_user_id=LENA,
                skills=["billing", "orders"],
                languages=["de", "en"],
                capacity=2,
            )
        )
        session.add(
            Agent(
                id="AG-02",
                name="Tomás",
                email="tomas@example.com",
                slack_user_id=TOMAS,
                skills=["hardware"],
                languages=["en"],
                capacity=3,
            )
        )
    client = await start_gateway(settings)
    try:
        yield Routed(client, fake_slack, engine, settings)
    finally:
        await client.close()
        engine.dispose()


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def shown(call: dict[str, Any]) -> str:
    return json.dumps(call.get("blocks") or call.get("text"), ensure_ascii=False)


async def test_an_online_agent_gets_the_offer_by_dm_and_accepts_it(routed: Routed) -> None:
    assert await routed.command(LENA, "online") == "You are now online."
    handoff = await routed.open_handoff("c-bill")

    # Offered to Lena alone, by DM: nothing in the agents' channel yet.
    [offer] = routed.slack.posted(dm_channel_of(LENA))
    assert offer["channel"] == LENA and buttons(offer["blocks"]) == ["offer_accept", "offer_decline"]
    card = offer["blocks"][0]["text"]["text"]
    assert f"Handoff #{handoff} is offered to you" in card
    assert "*Queue:* billing" in card and "*Language:* de" in card and "card declined twice" in card
    assert root_ts_of(routed.slack, handoff) is None and routed.slack.posted("#support-agents") == []
    offer_ts = offer_ts_of(routed.slack, handoff, LENA)
    assert offer_ts is not None
    assert (handoff, "offer", dm_channel_of(LENA), offer_ts) in desk_posts(routed)  # type: ignore[arg-type]

    # While offered, the customer's messages reach her under the offer (not the channel).
    await routed.client.post("/api/v1/messages", json={"conversation_id": "c-bill", "text": "hello?"}, headers=CUSTOMER)
    await routed.drain()
    assert routed.thread(offer_ts) == ["*Customer:* hello?"]
    # A reply there is not sent: she is told where to answer.
    await routed.reply(LENA, "one moment", offer_ts, channel=dm_channel_of(LENA))
    assert routed.ephemerals(LENA)[-1].startswith("Messages here are not sent to the customer")
    # Tomás cannot take it while it is offered to Lena.
    await routed.press(offer_button_press("offer_accept", TOMAS, handoff, offer_ts))
    assert routed.ephemerals(TOMAS) == ["This handoff is offered to another agent right now."]

    await routed.press(offer_button_press("offer_accept", LENA, handoff, offer_ts))
    view = await routed.service.get(handoff)
    assert view is not None and (view.status, view.agent_id) == ("claimed", "AG-01")
    # The offer says so, without buttons; the handoff now has its root (and thread) in the channel.
    [done] = routed.updates(offer_ts)
    assert "Claimed by Lena" in shown(done) and buttons(done["blocks"]) == []
    root_ts = routed.root(handoff)
    [root] = [c for c in routed.slack.posted("#support-agents") if not c.get("thread_ts")]
    assert "Claimed by Lena" in shown(root) and buttons(root["blocks"]) == ["handoff_resolve"]
    await routed.reply(LENA, "Hallo! Ich schaue mir das an.", root_ts)
    assert (await routed.transcript("c-bill"))[-1] == ("agent", "Hallo! Ich schaue mir das an.")


async def test_a_declined_offer_goes_to_the_team_and_the_root_is_posted_once(routed: Routed) -> None:
    await routed.command(LENA, "online")
    handoff = await routed.open_handoff("c-decl")
    offer_ts = offer_ts_of(routed.slack, handoff, LENA)
    assert offer_ts is not None

    await routed.press(offer_button_press("offer_decline", TOMAS, handoff, offer_ts))  # not his offer
    assert routed.ephemerals(TOMAS) == ["This handoff is no longer offered to you."]
    await routed.press(offer_button_press("offer_decline", LENA, handoff, offer_ts))
    # Nobody else fits: the billing team gets it, and the channel its root message with Claim.
    view = await routed.service.get(handoff)
    assert view is not None and (view.status, view.stage) == ("open", "team")
    assert "You declined this handoff." in shown(routed.updates(offer_ts)[-1])
    assert buttons(routed.updates(offer_ts)[-1]["blocks"]) == []
    root_ts = routed.root(handoff)
    [root] = [c for c in routed.slack.posted("#support-agents") if not c.get("thread_ts")]
    assert buttons(root["blocks"]) == ["handoff_claim", "handoff_resolve"] and "*Queue:* billing" in shown(root)

    # Declining again: it is no longer hers to decline.
    await routed.press(offer_button_press("offer_decline", LENA, handoff, offer_ts))
    assert routed.ephemerals(LENA)[-1] == "This handoff is no longer offered to you."
    await routed.press(button_press("handoff_claim", TOMAS, handoff, root_ts))
    assert (await routed.service.get(handoff)).agent_id == "AG-02"  # type: ignore[union-attr]
    assert len([c for c in routed.slack.posted("#support-agents") if not c.get("thread_ts")]) == 1


async def test_an_offer_that_passes_is_edited(routed: Routed) -> None:
    """Going away passes Lena's offer on (to the team): her DM says it passed and loses its buttons."""
    await routed.command(LENA, "online")
    handoff = await routed.open_handoff("c-pass")
    offer_ts = offer_ts_of(routed.slack, handoff, LENA)
    assert offer_ts is not None
    assert await routed.command(LENA, "away") == "You are now away."
    [passed] = routed.updates(offer_ts)
    assert "This offer has passed: the handoff went to the billing queue." in shown(passed)
    assert buttons(passed["blocks"]) == []
    assert routed.root(handoff)


async def test_a_handoff_closed_while_offered_closes_the_offer_and_never_reaches_the_channel(routed: Routed) -> None:
    from bot.db.models import Handoff, HandoffStatus
    from bot.handoff.events import HandoffClosed

    await routed.command(LENA, "online")
    handoff = await routed.open_handoff("c-gone")
    offer_ts = offer_ts_of(routed.slack, handoff, LENA)
    assert offer_ts is not None
    with session_factory(routed.engine).begin() as session:  # the customer went silent: the timers expire it
        session.get(Handoff, handoff).status = HandoffStatus.RESOLVED  # type: ignore[union-attr]
    await routed.service.events.publish(HandoffClosed(handoff, "", "expired"))
    await routed.drain()
    [closed] = routed.updates(offer_ts)
    assert "This handoff is closed." in shown(closed) and buttons(closed["blocks"]) == []
    assert routed.slack.posted("#support-agents") == []


async def test_presence_status_help_and_the_app_home(routed: Routed) -> None:
    assert await routed.command(LENA, "away") == "You are now away."
    status = await routed.command(LENA, "status")
    assert status == "You are away and hold 0 of 2 handoffs. Queues: billing, orders; languages: de, en."
    assert (await routed.service.agent_status("AG-01")).presence == "away"  # type: ignore[union-attr]
    assert (await routed.command(LENA, "")).startswith("*/support* commands:")
    assert (await routed.command(LENA, "dance")).startswith("*/support* commands:")
    assert await routed.command(NOBODY, "online") == "You are not registered as an agent."
    assert await routed.command(LENA, "note 12") == "Usage: `/support note <handoff> <text>`"
    assert await routed.command(LENA, "note twelve hello") == "`twelve` is not a handoff number."

    # The App Home: status and presence buttons (agents only).
    for user in (LENA, NOBODY):
        resp = await post_signed(
            routed.client, home_opened_event(user, event_id=f"EvH{next(_ids)}"), "application/json"
        )
        assert resp.status == 200
    await routed.drain()
    assert NOBODY not in routed.slack.home_views
    home = routed.slack.home_views[LENA]
    assert "You are away" in shown(home)
    assert buttons(home["blocks"]) == ["presence_online", "presence_away", "presence_offline"]
    await routed.press(home_button_press(LENA, "online"))
    assert (await routed.service.agent_status("AG-01")).presence == "online"  # type: ignore[union-attr]
    online = next(e for b in routed.slack.home_views[LENA]["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert online["action_id"] == "presence_online" and online.get("style") == "primary"
    # A change made elsewhere (the console, the agent API) shows on the Home tab too.
    await routed.service.set_presence("AG-01", "offline", via="api")
    await routed.drain()
    assert "You are offline" in shown(routed.slack.home_views[LENA])


async def _claimed_by_lena(routed: Routed, conversation: str) -> tuple[int, str]:
    """A billing handoff in the team's queue (Lena offline), claimed by Lena in the channel: (id, root ts)."""
    handoff = await routed.open_handoff(conversation)
    root_ts = routed.root(handoff)
    await routed.press(button_press("handoff_claim", LENA, handoff, root_ts))
    assert (await routed.service.get(handoff)).agent_id == "AG-01"  # type: ignore[union-attr]
    return handoff, root_ts


async def test_a_note_in_the_thread_is_kept_for_agents_and_never_sent(routed: Routed) -> None:
    handoff, root_ts = await _claimed_by_lena(routed, "c-note")
    before = routed.thread(root_ts)
    ts = await routed.reply(LENA, "note: customer already tried <https://nimbus.example/pay|the retry page>", root_ts)
    assert await routed.transcript("c-note") == []  # the customer never sees it
    [note] = [n for n in await routed.service.notes(handoff) if n.kind == "note"]
    assert (
        note.text == "customer already tried the retry page (https://nimbus.example/pay)" and note.agent_id == "AG-01"
    )
    assert routed.slack.reactions == [(CHANNEL_ID, ts, "memo")]
    assert routed.thread(root_ts) == before  # the agent's own message is the note: not posted again

    # Anyone on the desk may add one; an empty one is refused.
    await routed.reply(TOMAS, "Note:   ", root_ts)
    assert routed.ephemerals(TOMAS) == ["The note is empty; nothing was stored."]
    # Notes from /support and from other desks appear in the thread, marked internal.
    assert await routed.command(TOMAS, f"note #{handoff} asked about the &lt;b&gt; router") == (
        f"Internal note added to handoff #{handoff}."
    )
    await routed.service.add_note(handoff, "AG-01", "called the bank", via="api")
    await routed.drain()
    assert routed.thread(root_ts)[-2:] == [
        ":memo: *Internal note* by *Tomás* (never sent to the customer): asked about the &lt;b&gt; router",
        ":memo: *Internal note* by *Lena* (never sent to the customer): called the bank",
    ]
    assert await routed.transcript("c-note") == []
    assert await routed.command(LENA, "note 999999 hello") == "This handoff no longer exists."


async def test_canned_replies_from_the_thread_and_from_the_command(routed: Routed) -> None:
    handoff, root_ts = await _claimed_by_lena(routed, "c-canned")
    listing = await routed.command(LENA, "canned")
    assert listing.startswith("Canned replies") and "• `refund_timing`: Refund timing" in listing
    filled = await routed.command(LENA, f"canned {handoff}")
    assert (
        "• `closing`: Anything else? (needs customer_name)" in filled and "• `refund_timing`: Refund timing" in filled
    )

    await routed.reply(LENA, "canned:refund_timing", root_ts)
    [(sender, text)] = await routed.transcript("c-canned")
    assert sender == "agent" and text.startswith("Your refund for order NB-100234 is on its way.")
    assert routed.thread(root_ts)[-1].startswith("*Lena* sent the canned reply `refund_timing`: Your refund for order")

    await routed.reply(LENA, "canned: closing", root_ts)  # {customer_name}: not verified, so not sent
    assert routed.ephemerals(LENA)[-1].startswith("The canned reply `closing` needs details")
    await routed.reply(LENA, "canned:nope", root_ts)
    assert routed.ephemerals(LENA)[-1] == "There is no canned reply `nope`: `/support canned` lists them."
    await routed.reply(TOMAS, "canned:refund_timing", root_ts)  # not his handoff
    assert routed.ephemerals(TOMAS)[-1] == "Claim this handoff first: your reply was not sent to the customer."

    answer = await routed.command(LENA, f"canned {handoff} device_reset")
    assert answer == f"The canned reply `device_reset` was sent to the customer of handoff #{handoff}."
    assert (await routed.transcript("c-canned"))[-1][1].startswith("For your Velo AX3000: hold the reset button")
    assert routed.thread(root_ts)[-1].startswith("*Lena* sent the canned reply `device_reset`: For your Velo AX3000")
    assert len(await routed.transcript("c-canned")) == 2


async def test_transfer_to_an_agent_and_back_to_a_queue(routed: Routed) -> None:
    handoff, root_ts = await _claimed_by_lena(routed, "c-transfer")
    assert await routed.command(TOMAS, f"transfer {handoff} AG-01") == (
        "Only the agent who claimed this handoff can do that."
    )
    assert (
        await routed.command(LENA, f"transfer {handoff} AG-02")
        == "Tomás cannot take it now (not online, or at capacity)."
    )
    assert await routed.command(LENA, f"transfer {handoff} AG-99") == "There is no agent `AG-99`."
    assert await routed.command(LENA, f"transfer {handoff} nowhere") == "There is no queue `nowhere`."
    assert await routed.command(LENA, f"transfer {handoff}") == (
        "Usage: `/support transfer <handoff> <AG-xx, @agent or queue> [note]`"
    )

    await routed.command(TOMAS, "online")
    answer = await routed.command(LENA, f"transfer {handoff} <@{TOMAS}|tomas> the router is faulty")
    assert answer == f"Handoff #{handoff} is now with Tomás."
    view = await routed.service.get(handoff)
    assert view is not None and view.agent_id == "AG-02"
    assert f":arrow_right: *Lena* transferred this handoff to <@{TOMAS}>." in routed.thread(root_ts)
    assert "Claimed by Tomás" in shown(routed.updates(root_ts)[-1])
    notes = [n.text for n in await routed.service.notes(handoff)]
    assert any("the router is faulty" in text for text in notes), notes

    # Back to the billing queue (nobody online for billing): the team can claim it again.
    answer = await routed.command(TOMAS, f"transfer {handoff} billing")
    assert answer == f"Handoff #{handoff} is back in the billing queue."
    view = await routed.service.get(handoff)
    assert view is not None and (view.status, view.stage) == ("open", "team")
    post = next(c for c in routed.slack.called("chat.postMessage") if "back in the *billing* queue" in c["text"])
    assert post["thread_ts"] == root_ts and post["reply_broadcast"] is True
    assert buttons(routed.updates(root_ts)[-1]["blocks"]) == ["handoff_claim", "handoff_resolve"]
    assert len([c for c in routed.slack.posted("#support-agents") if not c.get("thread_ts")]) == 1
    assert await routed.transcript("c-transfer") == []


async def test_a_transfer_to_a_queue_with_someone_online_offers_it_to_them(routed: Routed) -> None:
    handoff, root_ts = await _claimed_by_lena(routed, "c-reoffer")
    await routed.command(TOMAS, "online")
    await routed.command(LENA, f"transfer {handoff} AG-02")
    await routed.command(LENA, "online")
    await routed.command(TOMAS, f"transfer {handoff} billing")
    # Lena works billing and is online: offered to her first; the root says so and has no Claim.
    offer_ts = offer_ts_of(routed.slack, handoff, LENA)
    assert offer_ts is not None
    assert "Offered to Lena first" in shown(routed.updates(root_ts)[-1])
    assert buttons(routed.updates(root_ts)[-1]["blocks"]) == []
    await routed.press(offer_button_press("offer_accept", LENA, handoff, offer_ts))
    assert (await routed.service.get(handoff)).agent_id == "AG-01"  # type: ignore[union-attr]
    assert "Claimed by Lena" in shown(routed.updates(root_ts)[-1])


async def test_tags_show_on_the_root_message(routed: Routed) -> None:
    handoff, root_ts = await _claimed_by_lena(routed, "c-tags")
    assert (
        await routed.command(LENA, f"tag {handoff} VIP, follow-up") == f"Handoff #{handoff} is tagged vip, follow-up."
    )
    assert "*Tags:* vip, follow-up" in shown(routed.updates(root_ts)[-1])
    assert await routed.command(LENA, f"tag {handoff} no/slashes") == (
        "Those tags are not valid: use short words of letters, digits, `-` and `_`."
    )
    assert (await routed.service.get(handoff)).tags == ("vip", "follow-up")  # type: ignore[union-attr]


def test_thread_shortcuts_are_parsed() -> None:
    assert parse_shortcut("note: hi there") is not None and parse_shortcut("note: hi there").argument == "hi there"  # type: ignore[union-attr]
    assert parse_shortcut(" NOTE :multi\nline").argument == "multi\nline"  # type: ignore[union-attr]
    assert parse_shortcut("canned:refund_timing please").argument == "refund_timing"  # type: ignore[union-attr]
    assert parse_shortcut("canned:").argument == ""  # type: ignore[union-attr]
    assert parse_shortcut("a note: not one") is None and parse_shortcut("notes: no") is None
