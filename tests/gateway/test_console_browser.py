"""The agent console (/console) in headless Chromium against the real gateway (fake Rasa at the HTTP boundary).

An agent signs in, picks the handoff from the queue, reads the packet and the transcript,
claims it, replies, sees the customer's new messages as they arrive, and resolves it; a
second agent with a stale view is told that the handoff was claimed first.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent
from bot.handoff.requests import HandoffRequests
from bot.settings import PROJECT_ROOT
from tests.fakes.rasa import FakeRasa
from tests.services import require

pytestmark = pytest.mark.browser

Gateway = tuple[TestClient, FakeRasa]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: The old shared token (still in the test settings' BOT_AGENT_TOKEN): it signs nobody in.
SHARED_TOKEN = "agent-token-for-tests"
CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CONVERSATION = "c-console"
SUMMARY = "Customer asked for a person during the Wi-Fi keeps dropping guide (1 step: which_device: A router)."
HOSTILE = "<img src=x onerror=alert(1)>"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture
def chromium() -> str:
    """The Chromium binary (skips, or fails under BOT_REQUIRE_SERVICES=1, when it is missing)."""
    require(CHROMIUM.exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    return str(CHROMIUM)


@pytest.fixture
def handoff(gateway: Gateway, settings: Any) -> int:
    """Two agents, and an open handoff on CONVERSATION with a troubleshooting path."""
    engine = create_db_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
            session.add(Agent(id="AG-02", name="Tomás", email="tomas@example.com"))
        packet = {
            "summary": SUMMARY,
            "troubleshooting": {
                "guide_title": "Wi-Fi keeps dropping",
                "path": [{"step": "which_device", "answer": "A router"}],
            },
        }
        ref, _ = HandoffRequests(engine).request(CONVERSATION, "customer_request", packet, "direct")
        return ref.id
    finally:
        engine.dispose()


@pytest.fixture
def tokens(handoff: int, settings: Any) -> dict[str, str]:
    """Each agent's own API token (as `python -m bot agents token` issues it)."""
    from bot.handoff.agents import AgentCredentials

    engine = create_db_engine(settings.database_url)
    try:
        return {agent: AgentCredentials(engine).issue(agent) for agent in ("AG-01", "AG-02")}
    finally:
        engine.dispose()


async def say(client: TestClient, text: str) -> None:
    resp = await client.post("/api/v1/messages", json={"conversation_id": CONVERSATION, "text": text}, headers=CUSTOMER)
    assert resp.status == 200
    assert (await resp.json())["replies"] == []  # the bot stays silent while the handoff is open


async def sign_in(page: Any, client: TestClient, token: str, name: str) -> None:
    from playwright.async_api import expect

    await page.goto(str(client.make_url("/console")))
    await page.get_by_label("Agent token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#ac-who-text")).to_have_text(f"Signed in as {name}")
    assert token not in page.url


async def test_agent_claims_replies_sees_new_messages_and_resolves(
    gateway: Gateway, handoff: int, tokens: dict[str, str], chromium: str
) -> None:
    from playwright.async_api import async_playwright, expect

    client, fake = gateway
    await say(client, "My Wi-Fi drops every evening")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(str(client.make_url("/console")))
        await page.get_by_label("Agent token").fill("not-the-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("The agent token was not accepted.")
        await sign_in(page, client, tokens["AG-01"], "Lena")
        assert await page.evaluate("sessionStorage.getItem('nimbus-console:token')") == tokens["AG-01"]

        queue = page.locator("#ac-queue-list li")
        await expect(queue).to_have_count(1)
        await expect(queue.first).to_contain_text(SUMMARY)
        await expect(queue.first).to_contain_text("Customer asked for a person")
        await expect(queue.first).to_contain_text("Open")
        await queue.first.get_by_role("button").click()

        packet = page.locator("#ac-packet")
        await expect(packet).to_contain_text("Wi-Fi keeps dropping")
        await expect(packet.locator(".ac-path li")).to_have_text(["which_device: A router"])
        customer = page.locator('#ac-transcript [data-sender="customer"]')
        agent = page.locator('#ac-transcript [data-sender="agent"]')
        await expect(customer.locator(".ac-text")).to_have_text(["My Wi-Fi drops every evening"])
        await expect(customer.first.locator(".ac-sender")).to_have_text("Customer")
        reply = page.get_by_label("Reply to the customer")
        await expect(reply).to_be_disabled()  # claim first

        await page.get_by_role("button", name="Claim", exact=True).click()
        await expect(page.locator("#ac-detail-state")).to_have_text("Claimed by you")
        for n, text in enumerate(("Hi, I'm Lena from Nimbus.", "Let me check your router."), start=1):
            await reply.fill(text)
            await reply.press("Enter")
            await expect(agent).to_have_count(n)
        await expect(agent.locator(".ac-text")).to_have_text(["Hi, I'm Lena from Nimbus.", "Let me check your router."])
        await expect(reply).to_have_value("")
        sent = await (await client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=CUSTOMER)).json()
        assert [(m["sender"], m["text"]) for m in sent["messages"]] == [
            ("customer", "My Wi-Fi drops every evening"),
            ("agent", "Hi, I'm Lena from Nimbus."),
            ("agent", "Let me check your router."),
        ]

        await say(client, "Thanks, it's the Velo AX3000.")
        await expect(customer).to_have_count(2, timeout=5_000)  # polled every 2 s
        await say(client, HOSTILE)
        await expect(customer).to_have_count(3, timeout=5_000)
        assert await customer.nth(1).locator(".ac-text").inner_text() == "Thanks, it's the Velo AX3000."
        assert await customer.nth(2).locator(".ac-text").inner_text() == HOSTILE
        assert await page.locator("#ac-transcript img").count() == 0
        assert dialogs == []
        await page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)

        await page.get_by_role("button", name="Resolve", exact=True).click()
        await expect(page.locator("#ac-detail-state")).to_have_text("Resolved")
        await expect(page.locator('#ac-transcript [data-sender="bot"] .ac-text')).to_have_text(
            ["triggered handoff_resolved"]
        )
        await expect(queue).to_have_count(0, timeout=5_000)
        await expect(reply).to_be_disabled()
        await browser.close()

    detail = await (await client.get(f"/api/v1/handoffs/{handoff}", headers=bearer(tokens["AG-01"]))).json()
    assert detail["status"] == "resolved" and detail["agent_id"] == "AG-01"
    assert fake.triggered == [(CONVERSATION, "handoff_resolved")]


async def test_a_second_agent_is_told_the_handoff_was_claimed_first(
    gateway: Gateway, handoff: int, tokens: dict[str, str], chromium: str
) -> None:
    from playwright.async_api import async_playwright, expect

    client, _ = gateway
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        lena = await (await browser.new_context()).new_page()
        tomas = await (await browser.new_context()).new_page()
        # Tomás's page never polls (its clock is paused), so it still shows the handoff as open.
        start = dt.datetime.now(dt.timezone.utc)
        await tomas.clock.install(time=start)
        await tomas.clock.pause_at(start + dt.timedelta(seconds=1))
        for page, agent, name in ((lena, "AG-01", "Lena"), (tomas, "AG-02", "Tomás")):
            await sign_in(page, client, tokens[agent], name)
            await page.locator("#ac-queue-list li button").first.click()
            await expect(page.get_by_role("button", name="Claim", exact=True)).to_be_enabled()

        await lena.get_by_role("button", name="Claim", exact=True).click()
        await expect(lena.locator("#ac-detail-state")).to_have_text("Claimed by you")
        await tomas.get_by_role("button", name="Claim", exact=True).click()
        await expect(tomas.get_by_role("alert")).to_have_text("Another agent has claimed this handoff.")
        await expect(tomas.locator("#ac-detail-state")).to_have_text("Claimed by AG-01")  # refreshed after the 409
        await expect(tomas.get_by_role("button", name="Claim", exact=True)).to_be_disabled()
        await expect(tomas.get_by_label("Reply to the customer")).to_be_disabled()
        await browser.close()

    detail = await (await client.get(f"/api/v1/handoffs/{handoff}", headers=bearer(tokens["AG-02"]))).json()
    assert detail["status"] == "claimed" and detail["agent_id"] == "AG-01"


async def test_the_console_signs_in_with_the_agents_own_token(
    gateway: Gateway, handoff: int, tokens: dict[str, str], settings: Any, chromium: str
) -> None:
    """No agent-id field: the token alone says who signs in; a revoked token signs the agent out."""
    from playwright.async_api import async_playwright, expect

    from bot.handoff.agents import AgentCredentials

    client, _ = gateway
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(str(client.make_url("/console")))
        assert await page.get_by_label("Agent id").count() == 0
        await page.get_by_label("Agent token").fill(SHARED_TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("The agent token was not accepted.")

        await sign_in(page, client, tokens["AG-02"], "Tomás")
        assert await page.evaluate("sessionStorage.getItem('nimbus-console:agent')") is None
        await page.reload()  # the tab keeps the token and asks again who it belongs to
        await expect(page.locator("#ac-who-text")).to_have_text("Signed in as Tomás")
        await page.locator("#ac-queue-list li button").first.click()
        await page.get_by_role("button", name="Claim", exact=True).click()
        await expect(page.locator("#ac-detail-state")).to_have_text("Claimed by you")

        engine = create_db_engine(settings.database_url)
        try:
            AgentCredentials(engine).revoke("AG-02")
        finally:
            engine.dispose()
        await expect(page.get_by_role("alert")).to_contain_text("revoked", timeout=5_000)  # the next poll
        await expect(page.get_by_label("Agent token")).to_be_visible()
        assert await page.evaluate("sessionStorage.getItem('nimbus-console:token')") is None
        await browser.close()

    detail = await (await client.get(f"/api/v1/handoffs/{handoff}", headers=bearer(tokens["AG-01"]))).json()
    assert detail["status"] == "claimed" and detail["agent_id"] == "AG-02"
