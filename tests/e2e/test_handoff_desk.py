"""The whole handoff, end to end: a web customer asks for a person, an agent claims it in Slack,
works it in Slack and in the web console, resolves it, and the bot takes over and asks for CSAT.

Real stack (Rasa, action server, gateway with its Slack desk), the widget and the console in
headless Chromium, Slack as a fake Web API plus signed Events/interactivity requests.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.settings import PROJECT_ROOT
from tests.fakes.slack import FakeSlack, button_press, root_ts_of, signed_headers, thread_reply
from tests.services import require
from tests.stack import E2E_SLACK_SIGNING_SECRET, RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
LENA = ("AG-01", "U0AGENT01")  # data/agents.yml: agent id and Slack member id
_event_ids = itertools.count(1)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def agent_api(stack: RunningStack, path: str) -> Any:
    response = requests.get(
        f"{stack.gateway_url}/api/v1/{path}", headers={"Authorization": f"Bearer {stack.agent_token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def slack_post(stack: RunningStack, body: str, content_type: str) -> None:
    headers = signed_headers(body, E2E_SLACK_SIGNING_SECRET, content_type)
    response = requests.post(f"{stack.gateway_url}/slack/events", data=body.encode(), headers=headers, timeout=10)
    assert response.status_code == 200, response.text


def test_web_customer_slack_and_console_agent_resolve_and_csat(
    stack: RunningStack, slack_api: tuple[FakeSlack, str]
) -> None:
    require(
        Path("/usr/bin/chromium").exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
    )
    from playwright.sync_api import expect, sync_playwright

    slack, _ = slack_api
    before = {h["id"] for h in agent_api(stack, "handoffs")["handoffs"]}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            customer = browser.new_context().new_page()
            customer.goto(f"{stack.gateway_url}/#chat")
            bot = customer.locator('.nc-msg[data-sender="bot"] .nc-text')
            agent_says = customer.locator('.nc-msg[data-sender="agent"] .nc-text')

            def send(text: str) -> None:
                customer.fill("#nimbus-chat-input", text)
                customer.click("#nimbus-chat-send")

            # 1. The customer asks for a person; the handoff is announced in Slack with Claim/Resolve.
            send("I want to talk to a real person please")
            expect(bot.first).to_be_visible(timeout=30_000)
            handoff = wait_for(
                "the handoff", lambda: [h for h in agent_api(stack, "handoffs?status=open")["handoffs"]
                                        if h["id"] not in before]
            )[0]  # fmt: skip
            handoff_id = int(handoff["id"])
            root_ts = wait_for("the Slack announcement", lambda: root_ts_of(slack, handoff_id))

            # 2. Lena claims it in Slack.
            slack_post(
                stack, button_press("handoff_claim", LENA[1], handoff_id, root_ts), "application/x-www-form-urlencoded"
            )
            wait_for("the claim", lambda: agent_api(stack, f"handoffs/{handoff_id}")["agent_id"] == LENA[0])

            # 3. The web console shows it claimed by her; she replies from the console ...
            console = browser.new_context().new_page()
            console.goto(f"{stack.gateway_url}/console")
            console.fill("#ac-token", stack.agent_token)  # Lena's own token, printed by `python -m bot run`
            console.click("#ac-signin-button")
            expect(console.locator("#ac-who-text")).to_have_text("Signed in as Lena Hoffmann", timeout=15_000)
            console.locator(f'li[data-handoff="{handoff_id}"] button').click()
            expect(console.locator("#ac-detail-state")).to_contain_text("Claimed by you", timeout=15_000)
            console.fill("#ac-reply", "Hi, this is Lena from Nimbus support.")
            console.press("#ac-reply", "Enter")
            expect(agent_says.nth(0)).to_have_text("Hi, this is Lena from Nimbus support.", timeout=15_000)

            # ... and from her Slack thread; the customer sees both, in order.
            reply = thread_reply(
                LENA[1], "Which router do you have?", root_ts, f"EvE2E{next(_event_ids)}", "1700009999.000001"
            )
            slack_post(stack, reply, "application/json")
            expect(agent_says.nth(1)).to_have_text("Which router do you have?", timeout=15_000)

            # 4. The customer answers: it reaches the Slack thread and the console.
            send("It's the Velo AX3000, the light is red")
            wait_for(
                "the customer's message in the Slack thread",
                lambda: any(
                    c.get("thread_ts") == root_ts and "Velo AX3000" in c.get("text", "")
                    for c in slack.called("chat.postMessage")
                ),
            )
            expect(console.locator('#ac-transcript [data-sender="customer"]').last).to_contain_text(
                "Velo AX3000", timeout=15_000
            )
            assert agent_api(stack, f"handoffs/{handoff_id}")["status"] == "claimed"

            # 5. Lena resolves in the console: the bot is back and asks for a score, which is stored.
            console.click("#ac-resolve")
            csat_button = customer.locator(".nc-button:not([disabled])").get_by_text("5", exact=True)
            expect(csat_button).to_be_visible(timeout=30_000)
            csat_button.click()
            wait_for("the CSAT score", lambda: agent_api(stack, f"handoffs/{handoff_id}")["csat"] == 5)
            expect(bot.last).to_contain_text("anything else", ignore_case=True, timeout=15_000)

            senders = customer.locator(".nc-msg").evaluate_all("els => els.map(e => e.dataset.sender)")
            first_agent, last_agent = senders.index("agent"), len(senders) - 1 - senders[::-1].index("agent")
            assert senders[0] == "customer" and senders[first_agent : last_agent + 1] == ["agent", "agent"], senders
            assert senders[last_agent + 1] == "customer" and senders[-1] == "bot", senders
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            customer.screenshot(path=str(ARTIFACTS / "handoff-customer.png"))
            console.screenshot(path=str(ARTIFACTS / "handoff-console.png"))
        finally:
            browser.close()
    assert slack.unknown == [], slack.unknown
