"""One customer across channels, end to end: a guide paused in the web widget continues on Telegram.

A shop page embeds the widget with a customer token it signed (headless Chromium, on the
stack's gateway); the customer starts the wifi guide, answers the first question and stops. The
same customer then links a Telegram chat by an emailed code (a second gateway with a fake
Telegram, :func:`tests.e2e.test_channels.rig`), says hello, is offered the guide back, says
"back to my wifi problem", and the guide goes on at the step where the widget left it. Only the
database joins the two conversations.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.identity.tokens import mint_customer_token
from bot.settings import PROJECT_ROOT
from tests.e2e import test_channels as channels
from tests.e2e.test_channels import Rig, TelegramChat, step_message, texts
from tests.e2e.test_guides import GUIDES, OPENERS
from tests.mail import MailSink
from tests.orders import add_customer
from tests.services import require
from tests.stack import E2E_IDENTITY_SECRET

pytestmark = pytest.mark.e2e

# The second gateway (Telegram customers) and the HTTP client, as test_channels.py has them.
rig = channels.rig
session = channels.session

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
HAS_CHROMIUM = CHROMIUM.exists()
WIFI = GUIDES["wifi_drops"]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:60]


def pause_wifi_in_the_widget(gateway_url: str, token: str) -> None:
    """In headless Chromium: describe the problem, answer "A router", then stop at the status LED question."""
    from playwright.sync_api import expect, sync_playwright

    page_html = (
        '<!doctype html><html><head><meta charset="utf-8"></head><body><h1>My account</h1>'
        f'<script src="{gateway_url}/static/widget.js" data-gateway="{gateway_url}" '
        f'data-customer-token="{token}" data-open="true" data-title="Nimbus"></script></body></html>'
    )
    with sync_playwright() as p:
        # A page fulfilled by the test counts as non-local for Chromium's local-network checks,
        # which would then block the widget's WebSocket to the loopback gateway.
        no_lna = "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", no_lna])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            shop = f"{gateway_url}/shop/account"
            page.route(shop, lambda route: route.fulfill(body=page_html, content_type="text/html"))
            page.goto(shop)
            bot_says = page.locator('.nc-msg[data-sender="bot"] .nc-text')
            page.fill("#nimbus-chat-input", OPENERS["wifi_drops"])
            page.click("#nimbus-chat-send")
            expect(bot_says.filter(has_text=_first_line(WIFI.node("which_device").text)).last).to_be_visible(
                timeout=30_000
            )
            router = page.locator(".nc-button:not([disabled])").get_by_text("A router", exact=True)
            expect(router).to_be_visible(timeout=10_000)
            router.click()
            expect(bot_says.filter(has_text=_first_line(WIFI.node("status_led").text)).last).to_be_visible(
                timeout=30_000
            )
            page.fill("#nimbus-chat-input", "let's stop here")
            page.click("#nimbus-chat-send")
            expect(bot_says.filter(has_text=f"I've put “{WIFI.title}” on hold").last).to_be_visible(timeout=30_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "guide-paused-in-the-widget.png"), full_page=True)
        finally:
            browser.close()


def saved_guides(rig: Rig, customer: str) -> list[tuple[str, str, str, str]]:
    """(guide, step, channel, conversation) of the customer's saved guides."""
    with rig.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT guide_id, state, channel, conversation_id FROM customer_guides WHERE customer_id = :c"),
            {"c": customer},
        ).all()
    found = []
    for guide, state, channel, conversation in rows:
        node = (state if isinstance(state, dict) else json.loads(state))["node"]  # JSON comes back as text on SQLite
        found.append((guide, node, channel, conversation))
    return found


async def until_mailed(mailbox: MailSink, email: str, timeout_s: float = 10) -> list[str]:
    """The codes mailed to ``email``, once there is one (or ``[]`` after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while not mailbox.codes_for(email) and time.monotonic() < deadline:  # noqa: ASYNC110 (the sink is another thread)
        await asyncio.sleep(0.2)
    return mailbox.codes_for(email)


def keyboard(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


@pytest.mark.browser
async def test_a_verified_customer_pauses_a_guide_in_the_widget_and_resumes_it_on_telegram_at_the_same_step(
    rig: Rig, session: aiohttp.ClientSession, mailbox: MailSink
) -> None:
    require(HAS_CHROMIUM, "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    customer, email = add_customer(rig.engine)
    token = mint_customer_token(customer, E2E_IDENTITY_SECRET, ttl_s=900)

    await asyncio.to_thread(pause_wifi_in_the_widget, rig.stack.gateway_url, token)

    [(guide, node, channel, widget)] = saved_guides(rig, customer)
    assert (guide, node, channel) == ("wifi_drops", "status_led", "web") and widget.startswith("web-")

    # The same customer on Telegram: the chat is linked by a code mailed to them.
    chat = TelegramChat(rig, session, 720_001)
    asked = await chat.say("verify me")
    told = await chat.say(email)
    codes = await until_mailed(mailbox, email)
    assert codes, f"no code mailed; the bot said {texts(asked)} then {texts(told)}"
    linked = await chat.say(codes[-1])
    assert linked, "the bot said nothing to the code"

    hello = await chat.say("hi")
    [offer] = [m for m in hello if WIFI.title in m["text"]]
    assert "Welcome back" in offer["text"], texts(hello)
    assert keyboard(offer)[0][0] == f"Back to: {WIFI.title}", keyboard(offer)

    back = await chat.say("back to my wifi problem")
    assert any(f"pick up “{WIFI.title}” where we left off" in t for t in texts(back)), texts(back)
    led = step_message(back, WIFI, "status_led")  # the step the widget stopped at, not the first question
    assert all(WIFI.node("which_device").text.strip() != t for t in texts(back)), texts(back)
    assert saved_guides(rig, customer) == []  # running on Telegram now

    # It goes on from there, with the answer given in the widget.
    onward = await chat.press(led, "Blinking orange")
    step_message(onward, WIFI, "internet_down")
    chat.assert_each_sent_once()
