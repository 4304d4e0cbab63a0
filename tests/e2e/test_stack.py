"""End to end: the real Rasa server, action server and gateway, started as `make run` does.

The ``stack`` fixture (tests/conftest.py) is shared by every end-to-end module.
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from bot.settings import PROJECT_ROOT
from tests.services import require
from tests.stack import RunningStack, say

pytestmark = pytest.mark.e2e

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


async def test_ready_and_reports_start_up(stack: RunningStack) -> None:
    output = stack.output()
    for name in ("rasa", "actions", "gateway"):
        assert re.search(rf"{name}\s+ready after\s+[\d.]+ s", output), output
    assert "Web chat:" in output and "API token:       e2e-api-token" in output
    async with aiohttp.ClientSession() as session, session.get(f"{stack.gateway_url}/readyz") as response:
        body = await response.json()
    assert response.status == 200, body
    assert body["checks"] == {"rasa": True, "action_server": True, "database": True}


async def test_direct_api_conversation(stack: RunningStack) -> None:
    async with aiohttp.ClientSession() as session:
        greeting = await say(session, stack, "e2e-direct-1", "hello there")
        assert greeting["handoff"] is None
        assert greeting["replies"] and greeting["replies"][0]["text"]
        payloads = [b["payload"] for r in greeting["replies"] for b in r["buttons"]]
        assert "/request_human" in payloads

        hours = await say(session, stack, "e2e-direct-1", "what are your opening hours?")
        assert any(re.search(r"\d", r["text"]) for r in hours["replies"]), hours

        human = await say(session, stack, "e2e-direct-1", "I want to talk to a real person please")
        assert human["handoff"] is not None and human["handoff"]["status"] == "open", human  # via the action server
        assert human["replies"]

        async with session.get(
            f"{stack.gateway_url}/api/v1/conversations/e2e-direct-1/messages",
            headers={"Authorization": f"Bearer {stack.api_token}"},
        ) as response:
            listed = await response.json()
    senders = [m["sender"] for m in listed["messages"]]
    assert senders.count("customer") == 3 and senders.count("bot") >= 3
    assert senders[0] == "customer"


def _chromium() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.browser
def test_widget_conversation_in_chromium(stack: RunningStack) -> None:
    chromium = _chromium()
    require(chromium is not None, "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"{stack.gateway_url}/#chat")
            page.fill("#nimbus-chat-input", "hi")
            page.click("#nimbus-chat-send")
            bot_messages = page.locator('.nc-msg[data-sender="bot"]')
            expect(bot_messages.first).to_be_visible(timeout=30_000)
            button = page.locator(".nc-button").filter(has_text=re.compile("person", re.I)).first
            expect(button).to_be_visible(timeout=10_000)
            before = bot_messages.count()
            button.click()
            expect(page.locator('.nc-msg[data-sender="customer"]')).to_have_count(2, timeout=30_000)
            deadline = time.monotonic() + 30
            while bot_messages.count() <= before and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert bot_messages.count() > before
            page.screenshot(path=str(ARTIFACTS / "widget-e2e.png"))

            texts = page.locator(".nc-msg .nc-text").all_inner_texts()
            page.reload()
            expect(page.locator(".nc-msg")).to_have_count(len(texts), timeout=15_000)
            assert page.locator(".nc-msg .nc-text").all_inner_texts() == texts
        finally:
            browser.close()
    with urllib.request.urlopen(f"{stack.gateway_url}/healthz") as response:  # noqa: S310
        assert response.status == 200
