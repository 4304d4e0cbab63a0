"""The widget's "Email me the answer if I leave" form, in headless Chromium against the real gateway."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.db.engine import create_db_engine
from bot.db.migrate import upgrade
from bot.settings import Settings
from tests.channels.test_web_widget_browser import CHROMIUM_ARGS, _chromium, _start_gateway
from tests.fakes.rasa import FakeRasa
from tests.helpers import free_port
from tests.services import require

pytestmark = pytest.mark.browser


async def test_the_customer_leaves_an_address_with_consent_and_can_withdraw_it(
    fake_rasa: tuple[FakeRasa, Settings],
) -> None:
    chromium = _chromium()
    require(chromium is not None, "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    _, settings = fake_rasa
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    port = free_port()
    runner = await _start_gateway(settings, port)

    def kept() -> list[str]:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT email FROM web_follow_ups")).scalars())

    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/#chat")
            toggle = page.locator("#nimbus-chat-follow-up-toggle")
            note = page.locator("#nimbus-chat-follow-up-note")
            await expect(toggle).to_be_visible(timeout=15_000)
            await toggle.click()
            await page.fill("#nimbus-chat-follow-up-email", "ana@example.org")
            await page.click(".nc-follow-up-save")
            await expect(note).to_have_text("Tick the box to agree first.")
            assert kept() == []  # nothing is kept without consent
            await page.check("#nimbus-chat-follow-up-consent")
            await page.click(".nc-follow-up-save")
            await expect(note).to_have_text("We'll email ana@example.org if an agent answers after you've left.")
            assert kept() == ["ana@example.org"]
            await page.click(".nc-follow-up >> text=Stop")
            await expect(toggle).to_be_visible()
            await expect(note).to_be_hidden()
            assert kept() == []
            await browser.close()
    finally:
        await runner.cleanup()
        engine.dispose()
