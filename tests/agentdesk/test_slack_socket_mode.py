"""The Slack agent desk over Socket Mode: the real slack-bolt/slack-sdk client against the fake Slack's socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.agentdesk.slack import SlackDesk
from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent
from bot.gateway.app import create_app
from bot.gateway.keys import HANDOFFS, SLACK_DESK
from bot.handoff.events import HandoffOpened
from bot.handoff.requests import HandoffRequests
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import FakeSlack, button_press, root_ts_of, thread_reply

CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}
APP_TOKEN = "xapp-test"


@dataclass
class SocketDesk:
    """The running gateway whose Slack desk listens over Socket Mode, and an announced handoff on c-sm."""

    client: TestClient
    slack: FakeSlack
    engine: Engine
    handoff: int = 0

    @property
    def desk(self) -> SlackDesk:
        return self.client.server.app[SLACK_DESK]


@pytest.fixture
async def socket_desk(fake_rasa: tuple[FakeRasa, Settings], slack: tuple[FakeSlack, str]) -> AsyncIterator[SocketDesk]:
    """The real gateway with Slack in Socket Mode only (app token, no signing secret) and a handoff posted."""
    from bot.db.migrate import upgrade

    _, base = fake_rasa
    fake_slack, api_url = slack
    settings = base.with_overrides(
        slack={
            "bot_token": "xoxb-test-token",
            "app_token": APP_TOKEN,
            "signing_secret": "",
            "agents_channel": "#support-agents",
            "api_url": api_url,
        }
    )
    assert settings.slack.enabled
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    with session_factory(engine).begin() as session:
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com", slack_user_id="U0AGENT01"))
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    state = SocketDesk(client, fake_slack, engine)
    socket = state.desk.slack._socket
    socket_client = socket.client if socket is not None else None
    try:
        ref, _ = HandoffRequests(engine).request("c-sm", "customer_request", {"summary": "no signal"}, "direct")
        state.handoff = ref.id
        await client.server.app[HANDOFFS].events.publish(HandoffOpened(ref.id, "c-sm"))
        await state.desk.drain()
        yield state
    finally:
        await client.close()
        engine.dispose()
    # The desk closed its Socket Mode client with the gateway: the fake sees no open connection.
    assert socket_client is not None and socket_client.closed
    assert socket_client.aiohttp_client_session.closed
    for _ in range(200):
        if not fake_slack.sockets:
            break
        await asyncio.sleep(0.01)
    assert fake_slack.sockets == []


async def test_claim_and_reply_arrive_over_socket_mode(socket_desk: SocketDesk) -> None:
    slack = socket_desk.slack
    # Socket Mode was opened with the app token; everything else used the bot token.
    [opened] = [c for c in slack.calls if c.method == "apps.connections.open"]
    assert opened.token == APP_TOKEN
    assert {c.token for c in slack.calls if c.method != "apps.connections.open"} == {"xoxb-test-token"}
    assert slack.connections == 1 and len(slack.sockets) == 1
    # Without a signing secret there is no HTTP endpoint: Slack can only come in over the socket.
    assert (await socket_desk.client.post("/slack/events", data=b"{}")).status in (404, 405)

    root_ts = root_ts_of(slack, socket_desk.handoff)
    assert root_ts is not None

    # Lena presses Claim: an `interactive` envelope carrying the block_actions payload.
    press = json.loads(parse_qs(button_press("handoff_claim", "U0AGENT01", socket_desk.handoff, root_ts))["payload"][0])
    ack = await slack.push_envelope({"type": "interactive", "payload": press})
    assert ack["envelope_id"].startswith("env-")
    await socket_desk.desk.drain()
    view = await socket_desk.client.server.app[HANDOFFS].get(socket_desk.handoff)
    assert view is not None and (view.status, view.agent_id) == ("claimed", "AG-01")
    [update] = slack.called("chat.update")
    assert update["ts"] == root_ts and "Lena" in update["text"] + json.dumps(update["blocks"])

    # Lena replies in the handoff's thread: an `events_api` envelope with the message event.
    event = json.loads(
        thread_reply("U0AGENT01", "Try restarting it &amp; wait", root_ts, "Ev0SOCKET01", "1700000600.000001")
    )
    envelope = {"type": "events_api", "payload": event, "retry_attempt": 0, "retry_reason": ""}
    reply_ack = await slack.push_envelope(envelope)
    assert reply_ack["envelope_id"] != ack["envelope_id"]
    await socket_desk.desk.drain()

    resp = await socket_desk.client.get("/api/v1/conversations/c-sm/messages", headers=CUSTOMER)
    assert resp.status == 200
    messages = [(m["sender"], m["text"]) for m in (await resp.json())["messages"]]
    assert ("agent", "Try restarting it & wait") in messages, messages
    assert slack.called("chat.postEphemeral") == []
    assert len(slack.acks) == 2
