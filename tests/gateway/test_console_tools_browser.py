"""The agent console's desk tools (issue 20) in headless Chromium against the real gateway (fake Rasa).

One agent goes online (and the console keeps a heartbeat), is offered a handoff and accepts it,
reads the customer across channels, writes an internal note (never in the transcript, never to
the customer), sends a canned reply filled from the handoff, completes one that cannot be
filled, tags the handoff, declines a second offer and transfers the first to a colleague. Then
the queue filter, the escalations and dead letters tabs (with a retry) and the conversation
search. Screenshots of each flow go to tests/artifacts/console-tools-*.png.

Written with Playwright's async API: the gateway under test runs in the test's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.channels.retry import DEAD
from bot.db.engine import create_db_engine, session_factory
from bot.db.models import AgentPresence, Conversation, Handoff, InboxItem, Message, Sender, utcnow
from bot.db.seed import load_demo_data, seed_database
from bot.handoff.agents import AgentCredentials
from bot.handoff.requests import HandoffRequests
from bot.handoff.routing import load_routing
from bot.settings import PROJECT_ROOT
from tests.fakes.rasa import FakeRasa
from tests.services import require

pytestmark = pytest.mark.browser

Gateway = tuple[TestClient, FakeRasa]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
DATA = PROJECT_ROOT / "data"
#: The demo customer whose handoff is worked: data/records (orders and five devices).
FEMKE = ("C1020", "Femke Smit")
CONVERSATION = "c-femke"
OTHER_CHANNEL = "tg-femke"  # an earlier conversation of hers on Telegram
NOTE = "Second failed payment this month; check the card on file."
HOSTILE_NOTE = "<img src=x onerror=alert(1)> internal only"
HANDOVER = "The card is fine; looks like a router billing mix-up."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def database(settings: Any) -> Iterator[Engine]:
    engine = create_db_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def chromium() -> str:
    """The Chromium binary (skips, or fails under BOT_REQUIRE_SERVICES=1, when it is missing)."""
    require(CHROMIUM.exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(CHROMIUM)


@pytest.fixture
def tokens(gateway: Gateway, settings: Any) -> dict[str, str]:
    """The demo company (agents, customers, orders, devices) and Lena's and Tomás's own tokens."""
    with database(settings) as engine:
        seed_database(engine, load_demo_data(DATA))
        return {agent: AgentCredentials(engine).issue(agent) for agent in ("AG-01", "AG-02")}


async def say(client: TestClient, conversation: str, text: str) -> None:
    resp = await client.post("/api/v1/messages", json={"conversation_id": conversation, "text": text}, headers=CUSTOMER)
    assert resp.status == 200, await resp.text()


def conversation(
    settings: Any, conversation_id: str, channel: str, customer_id: str | None, text: str, days_ago: float = 0
) -> None:
    """A conversation as its channel stores it: the customer's first message (verified when ``customer_id``)."""
    when = utcnow() - dt.timedelta(days=days_ago)
    with database(settings) as engine, session_factory(engine).begin() as session:
        session.add(
            Conversation(id=conversation_id, channel=channel, customer_id=customer_id, created_at=when, updated_at=when)
        )
        session.flush()
        session.add(Message(conversation_id=conversation_id, sender=Sender.CUSTOMER, text=text, created_at=when))


def femke_on_web_and_telegram(settings: Any) -> None:
    """Femke, verified, in the web chat now; and on Telegram last week (the customer view shows both)."""
    conversation(settings, CONVERSATION, "web", FEMKE[0], "My payment failed twice")
    conversation(settings, OTHER_CHANNEL, "telegram", FEMKE[0], "Is my router covered?", days_ago=6)


def open_handoff(settings: Any, conversation: str, packet: dict[str, Any]) -> int:
    """A handoff as the action server opens it (queue from data/routing.yml); the gateway's router offers it."""
    with database(settings) as engine:
        ref, created = HandoffRequests(engine, load_routing(DATA / "routing.yml")).request(
            conversation, "customer_request", packet, "direct"
        )
        assert created
        return ref.id


async def eventually(what: str, check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def stored_presence(settings: Any, agent_id: str) -> str | None:
    with database(settings) as engine, session_factory(engine)() as session:
        row = session.get(AgentPresence, agent_id)
        return str(row.status) if row is not None else None


async def agent_get(client: TestClient, token: str, path: str) -> Any:
    resp = await client.get(f"/api/v1/{path}", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


#: For screenshots: the desk's panes grow with their content instead of scrolling, so that a
#: full-page screenshot shows all of a flow.
UNSCROLLED = """
.ac-desk { height: auto !important; }
.ac-queue, .ac-detail, .ac-transcript, .ac-notes { overflow: visible !important; max-height: none !important; }
"""


async def screenshot(page: Any, name: str) -> None:
    style = await page.add_style_tag(content=UNSCROLLED)
    await page.screenshot(path=str(ARTIFACTS / f"console-tools-{name}.png"), full_page=True)
    await style.evaluate("node => node.remove()")


async def sign_in(page: Any, client: TestClient, token: str, name: str) -> None:
    from playwright.async_api import expect

    await page.goto(str(client.make_url("/console")))
    await page.get_by_label("Agent token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#ac-who-text")).to_have_text(f"Signed in as {name}")


def billing_packet(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "language": "de",
        "channel": "web",
        "customer": {"id": FEMKE[0], "summary": {"orders": 6}},
        "troubleshooting": {
            "guide": "payment_failed",
            "guide_title": "Payment failed",
            "path": [{"step": "which_method", "answer": "Card"}],
        },
    }


async def test_presence_offer_notes_canned_reply_tags_and_transfer(
    gateway: Gateway, tokens: dict[str, str], settings: Any, chromium: str
) -> None:
    from playwright.async_api import async_playwright, expect

    client, _ = gateway
    femke_on_web_and_telegram(settings)
    # Tomás is online (from his own console) so that Lena can transfer to him.
    resp = await client.put("/api/v1/agents/me/presence", json={"status": "online"}, headers=bearer(tokens["AG-02"]))
    assert resp.status == 200, await resp.text()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[tuple[str, str]] = []
        page.on("request", lambda r: requests.append((r.method, urlparse(r.url).path)))
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.clock.install()

        def heartbeats() -> int:
            return requests.count(("POST", "/api/v1/agents/me/heartbeat"))

        # 1. Presence: Lena starts offline (no heartbeat), goes online; the console beats every 20 s.
        await sign_in(page, client, tokens["AG-01"], "Lena Hoffmann")
        presence = page.locator("#ac-presence")
        await expect(presence).to_have_value("offline")
        await expect(page.locator("#ac-load")).to_have_text("0 of 2")
        assert heartbeats() == 0
        await presence.select_option("online")
        await expect(presence).to_have_attribute("data-presence", "online")
        assert ("PUT", "/api/v1/agents/me/presence") in requests
        await eventually("the first heartbeat", lambda: heartbeats() >= 1)
        before = heartbeats()
        await page.clock.run_for(20_500)
        await eventually("the heartbeat 20 s later", lambda: heartbeats() > before)
        assert (await agent_get(client, tokens["AG-01"], "agents/me"))["presence"] == "online"
        await screenshot(page, "presence")

        # 2. A billing handoff (Lena has the skill and speaks German) is offered to her; she accepts.
        handoff = open_handoff(settings, CONVERSATION, billing_packet("Card payment failed twice for Femke."))
        offer = page.locator(f'#ac-offers-list li[data-offer="{handoff}"]')
        await expect(offer).to_be_visible(timeout=15_000)  # routed by the gateway's 2 s check
        await expect(offer).to_contain_text("Card payment failed twice for Femke.")
        await expect(offer).to_contain_text("Billing")
        await screenshot(page, "offer")
        await page.locator(f"#ac-offer-accept-{handoff}").click()
        await expect(page.locator("#ac-detail-state")).to_have_text("Claimed by you")
        await expect(page.locator("#ac-offers")).to_be_hidden()
        await expect(page.locator("#ac-load")).to_have_text("1 of 2")
        await expect(page.locator("#ac-detail-flags")).to_contain_text("Queue: Billing")

        # 3. The customer across channels: both conversations, the open request, orders, devices.
        view = page.locator("#ac-customer-view")
        await expect(view).to_contain_text(FEMKE[1])
        await expect(view.locator(f'[data-conversation="{OTHER_CHANNEL}"]')).to_contain_text("Telegram")
        await expect(view.locator(f'[data-conversation="{CONVERSATION}"]')).to_contain_text("this conversation")
        await expect(view).to_contain_text("Open requests")
        await expect(view).to_contain_text("100312")  # one of her orders
        await expect(view).to_contain_text("NX-3K-C7B3A5")  # one of her devices

        # 4. Internal notes: shown as notes, never in the transcript, never to the customer.
        for n, text in enumerate((NOTE, HOSTILE_NOTE), start=1):
            await page.locator("#ac-note-input").fill(text)
            await page.locator("#ac-note-add").click()
            await expect(page.locator('#ac-notes .ac-note[data-kind="note"]')).to_have_count(n)
        notes = page.locator('#ac-notes .ac-note[data-kind="note"]')
        await expect(notes.first.locator(".ac-note-kind")).to_have_text("Internal note")
        await expect(notes.locator(".ac-text")).to_have_text([NOTE, HOSTILE_NOTE])
        await expect(page.locator('#ac-notes .ac-note[data-kind="offer"]')).to_have_count(1)  # routing history
        assert await page.locator("#ac-notes img").count() == 0
        assert NOTE not in await page.locator("#ac-transcript").inner_text()
        background = await notes.first.evaluate("n => getComputedStyle(n).backgroundColor")
        assert background == "rgb(254, 249, 195)"  # the yellow of an internal note, not a message bubble

        # 5. A canned reply filled from the handoff (her name, Lena's name) reaches the customer.
        canned = page.locator("#ac-canned-select")
        await expect(canned.locator('option[value="greeting"]')).to_have_count(1)
        await canned.select_option("greeting")
        await expect(page.locator("#ac-canned-preview")).to_contain_text("Hi Femke, this is Lena")
        await page.locator("#ac-canned-send").click()
        agent_said = page.locator('#ac-transcript [data-sender="agent"] .ac-text')
        await expect(agent_said).to_have_count(1)
        await expect(agent_said.first).to_contain_text("Hi Femke, this is Lena from Nimbus support.")
        # One whose placeholder cannot be filled (no device named): the text lands in the reply box.
        await canned.select_option("device_reset")
        await page.locator("#ac-canned-send").click()
        await expect(page.locator("#ac-reply")).to_have_value(
            "For your {device}: hold the reset button on the back for 10 seconds until the light blinks white, "
            "then set it up again in the Nimbus app. Your settings are kept in your account."
        )
        await expect(page.locator("#ac-notice")).to_contain_text("complete it in the reply box")
        await expect(agent_said).to_have_count(1)  # nothing was sent
        await page.locator("#ac-reply").fill("For your Velo AX3000: hold the reset button for 10 seconds.")
        await page.locator("#ac-reply").press("Enter")
        await expect(agent_said).to_have_count(2)
        sent = await (await client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=CUSTOMER)).json()
        said = [m["text"] for m in sent["messages"]]
        assert any(t.startswith("Hi Femke, this is Lena from Nimbus support.") for t in said), said
        assert not any(NOTE in t or "internal only" in t for t in said), said
        await screenshot(page, "notes-canned")

        # 6. Tags: lower-cased, shown as chips, stored.
        await page.locator("#ac-tags-input").fill("Refund, VIP")
        await page.locator("#ac-tags-save").click()
        await expect(page.locator("#ac-tags .ac-tag")).to_have_text(["refund", "vip"])
        assert (await agent_get(client, tokens["AG-01"], f"handoffs/{handoff}"))["tags"] == ["refund", "vip"]
        await expect(page.locator(f'#ac-queue-list li[data-handoff="{handoff}"]')).to_contain_text("refund, vip")

        # 7. A second offer, which Lena declines: nobody else works billing, so its team gets it.
        conversation(settings, "c-second", "web", None, "My invoice is wrong")
        second = open_handoff(settings, "c-second", billing_packet("Invoice shows the wrong amount."))
        await expect(page.locator(f"#ac-offer-decline-{second}")).to_be_visible(timeout=15_000)
        await page.locator(f"#ac-offer-decline-{second}").click()
        await expect(page.locator(f'#ac-offers-list li[data-offer="{second}"]')).to_have_count(0)
        declined = await agent_get(client, tokens["AG-01"], f"handoffs/{second}")
        assert declined["status"] == "open" and declined["offered_to"] != "AG-01", declined

        # 8. Transfer to Tomás (online, with room), with a note for him.
        picker = page.locator("#ac-transfer-to")
        await expect(picker.locator('option[value="agent:AG-02"]')).to_contain_text("Tomás Ribeiro")
        await expect(picker.locator('option[value="agent:AG-02"]')).to_contain_text("Online")
        await expect(picker.locator('option[value="agent:AG-02"]')).to_be_enabled()
        await expect(picker.locator('option[value="agent:AG-03"]')).to_be_disabled()  # offline
        await picker.select_option("agent:AG-02")
        await page.locator("#ac-transfer-note").fill(HANDOVER)
        await page.locator("#ac-transfer-submit").click()
        await expect(page.locator("#ac-notice")).to_have_text("Transferred to Tomás Ribeiro (AG-02).")
        await expect(page.locator("#ac-detail-state")).to_have_text("Claimed by AG-02")
        await expect(page.locator('#ac-notes .ac-note[data-kind="transfer"]')).to_have_count(1)
        await expect(page.locator("#ac-notes")).to_contain_text(HANDOVER)
        await expect(page.locator("#ac-reply")).to_be_disabled()
        await expect(page.locator("#ac-transfer-submit")).to_be_disabled()
        await expect(page.locator("#ac-load")).to_have_text("0 of 2")
        await screenshot(page, "transfer")

        # 9. A console that went silent for 90 s is taken offline by the gateway: the console says so
        #    and stops beating until the agent goes online again.
        with database(settings) as engine, session_factory(engine).begin() as session:
            session.execute(
                update(AgentPresence)
                .where(AgentPresence.agent_id == "AG-01")
                .values(seen_at=utcnow() - dt.timedelta(minutes=2))
            )
        await eventually("the gateway's check (every 2 s)", lambda: stored_presence(settings, "AG-01") == "offline", 10)
        await page.clock.run_for(20_500)
        await expect(presence).to_have_value("offline")
        await expect(page.locator("#ac-status-error")).to_contain_text("You are offline now")
        silent = heartbeats()
        await page.clock.run_for(41_000)
        await asyncio.sleep(0.5)
        assert heartbeats() == silent
        await presence.select_option("online")
        await expect(page.locator("#ac-status-error")).to_be_hidden()
        await eventually("a heartbeat once online again", lambda: heartbeats() > silent)
        assert dialogs == []
        await browser.close()

    moved = await agent_get(client, tokens["AG-02"], f"handoffs/{handoff}")
    assert (moved["status"], moved["agent_id"]) == ("claimed", "AG-02")
    kinds = [n["kind"] for n in moved["notes"]]
    assert kinds[0] == "offer" and "transfer" in kinds, kinds
    assert [n["text"] for n in moved["notes"] if n["kind"] == "note"][:2] == [NOTE, HOSTILE_NOTE]
    assert any(HANDOVER in n["text"] for n in moved["notes"]), moved["notes"]


async def test_queue_filter_escalations_dead_letters_and_search(
    gateway: Gateway, tokens: dict[str, str], settings: Any, chromium: str
) -> None:
    from playwright.async_api import async_playwright, expect

    client, _ = gateway
    femke_on_web_and_telegram(settings)
    await say(client, "c-hardware", "My router will not power on")  # on the direct API
    billing = open_handoff(settings, CONVERSATION, billing_packet("Card payment failed twice for Femke."))
    hardware = open_handoff(
        settings,
        "c-hardware",
        {"summary": "Router has no power after the update.", "troubleshooting": {"guide": "no_power", "path": []}},
    )
    with database(settings) as engine, session_factory(engine).begin() as session:
        # Escalated long ago and still unclaimed (the handoff timers do this after escalate_after_minutes).
        session.execute(update(Handoff).where(Handoff.id == hardware).values(escalated_at=utcnow(), stage="escalated"))
        session.add(
            InboxItem(
                platform="telegram",
                external_id="update-4711",
                conversation_id="tg-4711",
                body={"update_id": 4711},
                state=DEAD,
                attempts=41,
                error="RasaUnavailable",
            )
        )

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await sign_in(page, client, tokens["AG-01"], "Lena Hoffmann")

        # 1. The queue, all queues and then one: queue, language, channel, position, escalation.
        queue = page.locator("#ac-queue-list li")
        await expect(queue).to_have_count(2)
        item = page.locator(f'#ac-queue-list li[data-handoff="{hardware}"]')
        await expect(item).to_contain_text("Hardware")
        await expect(item.locator(".ac-badge-escalated")).to_be_visible()
        await expect(item.locator(".ac-place")).to_contain_text("Position 1 in Hardware")
        billing_item = page.locator(f'#ac-queue-list li[data-handoff="{billing}"]')
        await expect(billing_item.locator(".ac-meta")).to_contain_text("Billing · DE")
        await expect(billing_item.locator(".ac-badge-escalated")).to_be_hidden()
        await page.locator("#ac-queue-filter").select_option("billing")
        await expect(queue).to_have_count(1)
        await expect(queue.first).to_have_attribute("data-handoff", str(billing))
        await expect(page.locator("#ac-queue-status")).to_contain_text("in Billing")
        await screenshot(page, "queue-filter")

        # 2. Escalations: the escalated, unclaimed handoff, which opens in the detail pane.
        await expect(page.locator("#ac-escalations-count")).to_have_text("1")
        await page.locator("#ac-tab-escalations").click()
        escalated = page.locator("#ac-escalations-list li")
        await expect(escalated).to_have_count(1)
        await expect(escalated.first).to_have_attribute("data-handoff", str(hardware))
        await escalated.first.get_by_role("button").click()
        await expect(page.locator("#ac-detail-title")).to_have_text(f"Handoff #{hardware}")
        await expect(page.locator("#ac-detail-flags")).to_contain_text("Escalated")
        await screenshot(page, "escalations")

        # 3. Dead letters, and a retry.
        await page.locator("#ac-tab-dead-letters").click()
        dead = page.locator("#ac-dead-inbox .ac-dead")
        await expect(dead).to_have_count(1)
        await expect(dead.first).to_contain_text("RasaUnavailable")
        await expect(dead.first).to_contain_text("41 attempts")
        await screenshot(page, "dead-letters")
        retry = page.locator("#ac-dead-inbox button[id^='ac-dead-retry-inbox-']")
        await retry.click()
        await expect(page.locator("#ac-dead-status")).to_contain_text("is being retried")
        await expect(dead).to_have_count(0)
        assert (await agent_get(client, tokens["AG-01"], "dead-letters"))["inbox"] == []

        # 4. Search: by customer, and by words; a result opens its handoff.
        await page.locator("#ac-tab-search").click()
        await page.locator("#ac-search-submit").click()
        await expect(page.locator("#ac-search-error")).to_have_text("Fill in at least one field.")
        await page.locator("#ac-search-customer").fill(FEMKE[0])
        await page.locator("#ac-search-submit").click()
        results = page.locator("#ac-search-results li")
        await expect(results).to_have_count(2)  # her web chat and her Telegram chat, latest first
        await expect(results.first).to_have_attribute("data-conversation", CONVERSATION)
        await expect(results.first).to_contain_text(FEMKE[1])
        await expect(results.first).to_contain_text("My payment failed twice")
        await expect(results.first.locator(f"#ac-search-handoff-{billing}")).to_be_visible()
        await expect(results.nth(1)).to_contain_text("Telegram")
        await expect(results.nth(1)).to_contain_text("No handoff")
        await page.locator("#ac-search-customer").fill("")
        await page.locator("#ac-search-text").fill("power on")
        await page.locator("#ac-search-since").fill(utcnow().date().isoformat())
        await page.locator("#ac-search-submit").click()
        await expect(results).to_have_count(1)
        await expect(results.first).to_have_attribute("data-conversation", "c-hardware")
        await page.locator(f"#ac-search-handoff-{hardware}").click()
        await expect(page.locator("#ac-detail-title")).to_have_text(f"Handoff #{hardware}")
        await screenshot(page, "search")
        await browser.close()
