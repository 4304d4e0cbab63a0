"""The web widget in headless Chromium against the real gateway (fake Rasa at the HTTP boundary).

The gateway is stopped and started again under an open page: the widget must reconnect,
send what the customer typed meanwhile exactly once, and show nothing twice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.db.migrate import upgrade
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.helpers import free_port
from tests.services import require

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _chromium() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


async def _start_gateway(settings: Settings, port: int) -> web.AppRunner:
    runner = web.AppRunner(create_app(settings), shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_widget_reconnects_without_losing_or_duplicating_and_escapes_text(
    fake_rasa: tuple[FakeRasa, Settings],
) -> None:
    chromium = _chromium()
    require(chromium is not None, "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    fake, settings = fake_rasa
    upgrade(settings.database_url)
    port = free_port()
    runner = await _start_gateway(settings, port)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/#chat")
            bot = page.locator('.nc-msg[data-sender="bot"]')
            customer = page.locator('.nc-msg[data-sender="customer"]')

            await page.fill("#nimbus-chat-input", "first")
            await page.click("#nimbus-chat-send")
            await expect(bot).to_have_count(1, timeout=15_000)

            await runner.cleanup()  # the gateway goes away under the open page
            await expect(page.locator("#nimbus-chat-status")).to_be_visible(timeout=15_000)
            await page.fill("#nimbus-chat-input", "second")
            await page.click("#nimbus-chat-send")  # typed while disconnected: kept as pending
            await expect(customer).to_have_count(2)

            runner = await _start_gateway(settings, port)
            await expect(bot).to_have_count(2, timeout=30_000)
            await page.wait_for_timeout(1_000)  # give any duplicate a chance to show up
            assert await customer.locator(".nc-text").all_inner_texts() == ["first", "second"]
            assert await bot.locator(".nc-text").all_inner_texts() == ["you said: first", "you said: second"]
            assert [r["message"] for r in fake.received] == ["first", "second"]

            hostile = '<img src=x onerror="window.__xss=1"><b>bold</b>'
            await page.fill("#nimbus-chat-input", hostile)
            await page.click("#nimbus-chat-send")
            await expect(bot).to_have_count(3, timeout=15_000)
            assert await customer.nth(2).locator(".nc-text").inner_text() == hostile
            assert await bot.nth(2).locator(".nc-text").inner_text() == f"you said: {hostile}"
            assert await page.locator("#nimbus-chat-log img, #nimbus-chat-log b").count() == 0
            assert await page.evaluate("window.__xss") is None

            await page.reload()  # history survives a reload, once
            await expect(page.locator(".nc-msg")).to_have_count(6, timeout=15_000)
            await browser.close()
    finally:
        await runner.cleanup()


async def test_an_agents_reply_is_shown_as_text_in_the_widget(fake_rasa: tuple[FakeRasa, Settings]) -> None:
    """What an agent types reaches the customer verbatim and is never markup."""
    chromium = _chromium()
    require(chromium is not None, "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    from bot.db.engine import create_db_engine, session_factory
    from bot.db.models import Agent
    from bot.handoff.agents import AgentCredentials
    from bot.handoff.requests import HandoffRequests

    _, settings = fake_rasa
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    with session_factory(engine).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com"))
    agent = {"Authorization": f"Bearer {AgentCredentials(engine).issue('AG-01')}"}
    port = free_port()
    runner = await _start_gateway(settings, port)
    try:
        async with async_playwright() as p, aiohttp.ClientSession(f"http://127.0.0.1:{port}") as api:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/#chat")
            await page.fill("#nimbus-chat-input", "I want a person")
            await page.click("#nimbus-chat-send")
            await expect(page.locator('.nc-msg[data-sender="bot"]')).to_have_count(1, timeout=15_000)
            conversation = await page.evaluate("localStorage.getItem('nimbus-chat:conversation')")
            ref, _ = HandoffRequests(engine).request(conversation, "customer_request", {}, "web")
            claimed = await api.post(f"/api/v1/handoffs/{ref.id}/claim", headers=agent)
            assert claimed.status == 200
            hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><a href="#">link</a>'
            reply = {"text": hostile}
            assert (await api.post(f"/api/v1/handoffs/{ref.id}/messages", json=reply, headers=agent)).status == 201
            shown = page.locator('.nc-msg[data-sender="agent"] .nc-text')
            await expect(shown).to_have_count(1, timeout=15_000)
            assert await shown.inner_text() == hostile
            assert await page.locator("#nimbus-chat-log img, #nimbus-chat-log script, #nimbus-chat-log a").count() == 0
            assert await page.evaluate("window.__xss") is None
            await browser.close()
    finally:
        await runner.cleanup()
        engine.dispose()
