"""A turn survives a dropped WebSocket and a SIGKILLed gateway on the real stack (issue 14, point 2).

* The widget in Chromium sends a message and its socket is closed at once: the reply appears
  once, after the widget reconnects.
* A second gateway process talks to the stack's Rasa through a proxy that holds Rasa's answer
  for a while; the gateway is SIGKILLed while it waits. Restarted, it finishes the turn from
  Rasa's tracker (Rasa is not asked twice), and the client's retry with the same
  Idempotency-Key gets that turn's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
import sqlalchemy as sa
from aiohttp import web

from bot.db.migrate import upgrade
from tests.e2e.test_stack import _chromium
from tests.helpers import free_port
from tests.services import require
from tests.stack import Gateway, RunningStack, serve_in_thread

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
#: Counts the widget's sockets and lets the test close the live one (as a network drop would).
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  function Tracked(url, protocols) {
    const socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    window.__sockets.push(socket);
    return socket;
  }
  Tracked.prototype = Native.prototype;
  Object.assign(Tracked, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Tracked;
})();
"""


def _query(url: str, sql: str, **params: object) -> list[sa.Row]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))
    finally:
        engine.dispose()


@pytest.mark.browser
def test_a_widget_whose_socket_drops_mid_turn_gets_the_reply_once(stack: RunningStack) -> None:
    chromium = _chromium()
    require(chromium is not None, "Chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.add_init_script(TRACK_SOCKETS)
            page.goto(f"{stack.gateway_url}/#chat")
            page.fill("#nimbus-chat-input", "what are your opening hours?")
            page.click("#nimbus-chat-send")
            page.evaluate("window.__sockets[window.__sockets.length - 1].close()")  # dropped right after sending
            bot = page.locator('.nc-msg[data-sender="bot"]')
            expect(bot).to_have_count(1, timeout=30_000)
            page.wait_for_timeout(1_500)  # a duplicate would show up by now
            assert bot.count() == 1
            assert page.evaluate("window.__sockets.length") >= 2  # it did reconnect
            conversation = page.evaluate("localStorage.getItem('nimbus-chat:conversation')")
        finally:
            browser.close()
    url = stack.database_url
    rows = _query(url, "SELECT sender FROM messages WHERE conversation_id = :c ORDER BY id", c=conversation)
    senders = [row.sender for row in rows]
    assert senders[0] == "customer" and senders.count("customer") == 1 and "bot" in senders


class HoldingProxy:
    """Forwards everything to Rasa; holds the answer to the next customer message until released."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.answered = threading.Event()  # Rasa answered the held message (its tracker has the turn)
        self.release = asyncio.Event()
        self.hold_next = True
        self.webhook_calls = 0

    def app(self) -> web.Application:
        async def forward(request: web.Request) -> web.StreamResponse:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            body = await request.read()
            is_message = request.method == "POST" and "/webhooks/" in request.path
            async with (
                aiohttp.ClientSession() as session,
                session.request(
                    request.method, f"{self.rasa_url}{request.path_qs}", data=body, headers=headers
                ) as upstream,
            ):
                answer = await upstream.read()
                status, content_type = upstream.status, upstream.content_type
            if is_message:
                self.webhook_calls += 1
                if self.hold_next:
                    self.hold_next = False
                    self.answered.set()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.release.wait(), 30)
            return web.Response(body=answer, status=status, content_type=content_type)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        return app


@pytest.fixture
def held_gateway(stack: RunningStack, tmp_path: Path) -> Iterator[tuple[Gateway, HoldingProxy, str]]:
    """A second gateway on the stack's database, reaching Rasa through the holding proxy."""
    proxy = HoldingProxy(stack.rasa_url)
    with serve_in_thread(proxy.app()) as proxy_port:
        port = free_port()
        # Its own database: the stack's gateway, a replica on the same database, would otherwise take the turn.
        database_url = f"sqlite:///{tmp_path / 'var' / 'bot.db'}"
        upgrade(database_url)
        env = {
            **os.environ,
            **stack.env,  # the stack's tokens and secrets
            "BOT_VAR_DIR": str(tmp_path / "var"),
            "BOT_DATABASE_URL": database_url,
            "BOT_RASA_PORT": str(proxy_port),
            "BOT_GATEWAY_PORT": str(port),
            "BOT_REPLICA_ID": "e2e-durable",
            "BOT_SLACK_BOT_TOKEN": "",
            "BOT_TELEGRAM_BOT_TOKEN": "",
        }
        gateway = Gateway(env, f"http://127.0.0.1:{port}", tmp_path / "gateway.out")
        gateway.start()
        try:
            yield gateway, proxy, database_url
        finally:
            gateway.stop(kill=False)


def test_a_gateway_killed_mid_turn_answers_it_once_after_restart(
    held_gateway: tuple[Gateway, HoldingProxy, str], stack: RunningStack
) -> None:
    gateway, proxy, database_url = held_gateway
    headers = {"Authorization": f"Bearer {stack.api_token}", "Idempotency-Key": "kill-mid-turn-1"}
    body = {"conversation_id": "e2e-killed-1", "text": "what are your opening hours?"}
    first: dict[str, object] = {}

    def post() -> None:
        try:
            first["response"] = requests.post(f"{gateway.url}/api/v1/messages", json=body, headers=headers, timeout=30)
        except requests.RequestException as exc:
            first["error"] = exc

    client = threading.Thread(target=post)
    client.start()
    assert proxy.answered.wait(30), gateway.log_tail()  # Rasa has answered; the gateway waits for the proxy
    gateway.stop(kill=True)  # SIGKILL mid-turn: the customer's message is stored, the replies are not
    client.join(10)
    assert "error" in first  # the client saw the gateway die
    stored = _query(database_url, "SELECT sender FROM messages WHERE conversation_id = 'e2e-killed-1'")
    assert [row.sender for row in stored] == ["customer"]

    gateway.start()
    retry = requests.post(f"{gateway.url}/api/v1/messages", json=body, headers=headers, timeout=60)
    assert retry.status_code == 200, retry.text
    replies = [r["text"] for r in retry.json()["replies"]]
    assert replies and any(re.search(r"\d{1,2}:\d{2}", text) for text in replies), replies
    again = requests.post(f"{gateway.url}/api/v1/messages", json=body, headers=headers, timeout=60)
    assert again.json() == retry.json()
    rows = _query(database_url, "SELECT sender, text FROM messages WHERE conversation_id = 'e2e-killed-1' ORDER BY id")
    assert [row.sender for row in rows].count("customer") == 1
    assert [row.text for row in rows if row.sender == "bot"] == replies
    assert proxy.webhook_calls == 1  # the restarted gateway took the replies from the tracker, not from a second ask
