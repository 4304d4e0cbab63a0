"""The Slack agent desk on the real gateway, against a fake Slack Web API and signed Slack requests."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.agentdesk.blocks import HandoffCard, root_message
from bot.agentdesk.slack import SlackDesk
from bot.agentdesk.texts import SlackDeskTexts
from bot.agentdesk.threads import SlackThreads
from bot.db.engine import create_db_engine, session_factory
from bot.db.models import Agent, SlackDeskPost
from bot.gateway.app import create_app
from bot.gateway.keys import HANDOFFS, SLACK_DESK
from bot.handoff.events import HandoffEscalated, HandoffOpened, HandoffQueued
from bot.handoff.requests import HandoffRequests
from bot.settings import Settings
from bot.slack.mrkdwn import escape_mrkdwn, plain_from_slack
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import CHANNEL_ID, FakeSlack, button_press, thread_reply

SECRET = "slack-signing-secret-for-tests"
CUSTOMER = {"Authorization": "Bearer api-token-for-tests"}
_event_ids = itertools.count(1)
_message_ts = itertools.count(1)


@dataclass
class Desk:
    """The running gateway with its Slack desk, the fakes, and an open handoff on conversation c-s."""

    client: TestClient
    rasa: FakeRasa
    slack: FakeSlack
    engine: Engine
    settings: Settings
    handoff: int = 0

    @property
    def desk(self) -> SlackDesk:
        return self.client.server.app[SLACK_DESK]

    def agent(self, agent_id: str) -> dict[str, str]:
        """Headers with a new API token of ``agent_id`` (the agent API's credential)."""
        from bot.handoff.agents import AgentCredentials

        return {"Authorization": f"Bearer {AgentCredentials(self.engine).issue(agent_id)}"}


async def start_gateway(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    return client


@pytest.fixture
async def desk(fake_rasa: tuple[FakeRasa, Settings], slack: tuple[FakeSlack, str]) -> AsyncIterator[Desk]:
    """The real gateway with Slack configured, two Slack-linked agents and a handoff announced to Slack.

    Both agents are offline, so the router sends the new handoff straight to its queue's team
    (``HandoffQueued``): the desk posts its root message in the agents' channel.
    """
    from bot.db.migrate import upgrade

    rasa, base = fake_rasa
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
        session.add(Agent(id="AG-01", name="Lena", email="lena@example.com", slack_user_id="U0AGENT01"))
        session.add(Agent(id="AG-02", name="Tomás", email="tomas@example.com", slack_user_id="U0AGENT02"))
    client = await start_gateway(settings)
    state = Desk(client, rasa, fake_slack, engine, settings)
    try:
        ref, _ = HandoffRequests(engine).request(
            "c-s", "customer_request", {"summary": "router <blinks> red"}, "direct"
        )
        state.handoff = ref.id
        await client.server.app[HANDOFFS].events.publish(HandoffOpened(ref.id, "c-s"))
        await state.desk.drain()
        yield state
    finally:
        await state.client.close()  # the test may have restarted the gateway
        engine.dispose()


def root_of(slack: FakeSlack) -> tuple[str, dict[str, Any]]:
    """The ts the fake gave the first root message (in the agents' channel), and that message's arguments."""
    posted = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.postEphemeral")]
    for number, call in enumerate(posted, start=1):
        in_channel = call.args.get("channel") == "#support-agents"
        if call.method == "chat.postMessage" and not call.args.get("thread_ts") and in_channel:
            return f"1700000000.{number:06d}", call.args
    raise AssertionError("no root message posted")


def sign(body: str, timestamp: str, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def post_signed(
    client: TestClient,
    body: str,
    content_type: str,
    *,
    timestamp: int | None = None,
    secret: str = SECRET,
    extra: dict[str, str] | None = None,
) -> ClientResponse:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(body, stamp, secret),
        **(extra or {}),
    }
    return await client.post("/slack/events", data=body.encode(), headers=headers)


async def press(state: Desk, action_id: str, user: str, **signing: Any) -> ClientResponse:
    """A signed block_actions request: ``user`` pressed a button of the handoff's root message."""
    root_ts, _ = root_of(state.slack)
    body = button_press(action_id, user, state.handoff, root_ts)
    resp = await post_signed(state.client, body, "application/x-www-form-urlencoded", **signing)
    await state.desk.drain()
    return resp


def message_event(state: Desk, user: str, text: str, *, event_id: str | None = None) -> str:
    root_ts, _ = root_of(state.slack)
    ts = f"1700000500.{next(_message_ts):06d}"
    return thread_reply(user, text, root_ts, event_id or f"Ev{next(_event_ids):08d}", ts)


async def reply(state: Desk, user: str, text: str, **kwargs: Any) -> ClientResponse:
    """A signed Events API delivery: ``user`` replied in the handoff's thread."""
    extra = kwargs.pop("extra", None)
    resp = await post_signed(state.client, message_event(state, user, text, **kwargs), "application/json", extra=extra)
    await state.desk.drain()
    return resp


async def transcript(state: Desk) -> list[tuple[str, str]]:
    resp = await state.client.get("/api/v1/conversations/c-s/messages", headers=CUSTOMER)
    return [(m["sender"], m["text"]) for m in (await resp.json())["messages"]]


def thread_posts(state: Desk) -> list[str]:
    root_ts, _ = root_of(state.slack)
    return [c["text"] for c in state.slack.called("chat.postMessage") if c.get("thread_ts") == root_ts]


def ephemerals(state: Desk, user: str) -> list[str]:
    return [c["text"] for c in state.slack.called("chat.postEphemeral") if c["user"] == user]


def desk_posts(state: Desk) -> list[tuple[int, str, str, str]]:
    """The desk's record of its own Slack messages: (handoff, kind, channel, ts), in the order posted."""
    with state.engine.connect() as connection:
        rows = connection.execute(
            select(SlackDeskPost.handoff_id, SlackDeskPost.kind, SlackDeskPost.channel, SlackDeskPost.ts).order_by(
                SlackDeskPost.id
            )
        ).all()
    return [(int(h), str(k), str(c), str(t)) for h, k, c, t in rows]


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_a_handoff_is_posted_with_claim_and_resolve_and_its_thread_is_kept(desk: Desk) -> None:
    root_ts, root = root_of(desk.slack)
    assert root["channel"] == "#support-agents"
    assert buttons(root["blocks"]) == ["handoff_claim", "handoff_resolve"]
    values = {e["value"] for b in root["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert values == {str(desk.handoff)}
    section = root["blocks"][0]["text"]["text"]
    assert "customer_request" in section and "router &lt;blinks&gt; red" in section and "direct" in section
    assert "*Queue:* general" in section and "*Language:* unknown" in section
    assert "http" not in section
    assert desk_posts(desk) == [(desk.handoff, "root", CHANNEL_ID, root_ts)]
    assert [c.token for c in desk.slack.calls] == ["xoxb-test-token"]


async def test_an_escalation_nudges_the_thread_and_a_repeated_open_or_queue_posts_nothing(desk: Desk) -> None:
    events = desk.client.server.app[HANDOFFS].events
    await events.publish(HandoffOpened(desk.handoff, "c-s"))
    await events.publish(HandoffQueued(desk.handoff, "c-s", "general"))
    await events.publish(HandoffEscalated(desk.handoff, "c-s"))
    await desk.desk.drain()
    root_ts, _ = root_of(desk.slack)
    posts = desk.slack.called("chat.postMessage")
    assert len(posts) == 2 and posts[1]["thread_ts"] == root_ts and posts[1]["reply_broadcast"] is True
    assert posts[1]["text"] == "Still waiting for an agent: please claim this handoff."


async def test_a_customer_message_for_a_handoff_another_replica_opened_waits_for_its_root(desk: Desk) -> None:
    """In a cluster the replica that queued a handoff posts its root; if that never happens here, this one does."""
    import bot.agentdesk.roots as desk_module
    from bot.core.messages import StoredMessage
    from bot.db.models import Handoff, utcnow
    from bot.handoff.events import CustomerWrote

    ref, _ = HandoffRequests(desk.engine).request("c-other", "frustration", {"summary": "s"}, "direct")
    # The replica that opened it routed it to the team and died before posting: this desk heard nothing.
    with session_factory(desk.engine).begin() as session:
        session.get(Handoff, ref.id).stage = "team"  # type: ignore[union-attr]
    message = StoredMessage(1, "c-other", "customer", "still there?", (), None, utcnow())
    original = desk_module._ROOT_WAIT_STEP_S
    desk_module._ROOT_WAIT_STEP_S = 0.01
    try:
        await desk.client.server.app[HANDOFFS].events.publish(CustomerWrote(ref.id, message))
        await desk.desk.drain()
    finally:
        desk_module._ROOT_WAIT_STEP_S = original
    roots = [p for p in desk_posts(desk) if p[0] == ref.id and p[1] == "root"]
    threads = [p for p in desk_posts(desk) if p[0] == ref.id and p[1] == "thread"]
    assert len(roots) == 1 and len(threads) == 1  # the root, then the customer's message in its thread
    assert "still there?" in desk.slack.called("chat.postMessage")[-1]["text"]


async def test_claim_then_a_second_agent_and_a_stranger_are_told_why_not(desk: Desk) -> None:
    resp = await press(desk, "handoff_claim", "U0AGENT01")
    assert resp.status == 200
    view = await desk.client.server.app[HANDOFFS].get(desk.handoff)
    assert view is not None and (view.status, view.agent_id) == ("claimed", "AG-01")
    root_ts, _ = root_of(desk.slack)
    [update] = desk.slack.called("chat.update")
    assert update["ts"] == root_ts and update["channel"] == CHANNEL_ID
    assert "Claimed by Lena" in json.dumps(update["blocks"]) and buttons(update["blocks"]) == ["handoff_resolve"]

    assert (await press(desk, "handoff_claim", "U0AGENT02")).status == 200
    assert ephemerals(desk, "U0AGENT02") == ["Already claimed by someone else."]
    assert (await press(desk, "handoff_claim", "U0NOBODY")).status == 200
    assert ephemerals(desk, "U0NOBODY") == ["You are not registered as an agent."]
    assert len(desk.slack.called("chat.update")) == 1
    assert (await desk.client.server.app[HANDOFFS].get(desk.handoff)).agent_id == "AG-01"  # type: ignore[union-attr]


async def test_a_claim_in_the_console_or_agent_api_shows_in_slack(desk: Desk) -> None:
    resp = await desk.client.post(f"/api/v1/handoffs/{desk.handoff}/claim", json={}, headers=desk.agent("AG-02"))
    assert resp.status == 200
    await desk.desk.drain()
    [update] = desk.slack.called("chat.update")
    assert "Claimed by Tomás" in json.dumps(update["blocks"], ensure_ascii=False)
    assert buttons(update["blocks"]) == ["handoff_resolve"]


async def test_relay_both_ways_in_order_then_resolve(desk: Desk) -> None:
    await press(desk, "handoff_claim", "U0AGENT01")
    root_ts, _ = root_of(desk.slack)

    resp = await desk.client.post("/api/v1/messages", json={"conversation_id": "c-s", "text": "<b>&"}, headers=CUSTOMER)
    assert resp.status == 200
    await desk.desk.drain()
    assert thread_posts(desk) == ["*Customer:* &lt;b&gt;&amp;"]

    for text in (
        "Hi, I'm Lena.",
        "Checking your order &amp; router.",
        "Try <https://nimbus.example/reset|this guide>.",
    ):
        assert (await reply(desk, "U0AGENT01", text)).status == 200
    assert await transcript(desk) == [
        ("customer", "<b>&"),
        ("agent", "Hi, I'm Lena."),
        ("agent", "Checking your order & router."),
        ("agent", "Try this guide (https://nimbus.example/reset)."),
    ]
    assert len(thread_posts(desk)) == 1  # Slack replies are not echoed back into their own thread

    assert (await reply(desk, "U0AGENT02", "let me help")).status == 200
    assert ephemerals(desk, "U0AGENT02") == ["Claim this handoff first: your reply was not sent to the customer."]
    assert desk.slack.called("chat.postEphemeral")[-1]["thread_ts"] == root_ts
    assert len(await transcript(desk)) == 4

    # A reply from another front end (the agent API) is echoed into the thread.
    resp = await desk.client.post(
        f"/api/v1/handoffs/{desk.handoff}/messages", json={"text": "One moment"}, headers=desk.agent("AG-01")
    )
    assert resp.status == 201
    await desk.desk.drain()
    assert thread_posts(desk)[-1] == "*Lena* (other desk): One moment"

    await press(desk, "handoff_resolve", "U0AGENT02")
    assert ephemerals(desk, "U0AGENT02")[-1] == "Only the agent who claimed this handoff can do that."
    assert (await press(desk, "handoff_resolve", "U0AGENT01")).status == 200
    view = await desk.client.server.app[HANDOFFS].get(desk.handoff)
    assert view is not None and view.status == "resolved"
    assert desk.rasa.triggered == [("c-s", "handoff_resolved")]
    assert (await transcript(desk))[-1] == ("bot", "triggered handoff_resolved")
    final = desk.slack.called("chat.update")[-1]
    assert "Resolved by Lena" in json.dumps(final["blocks"]) and buttons(final["blocks"]) == []


async def test_resolve_before_claiming_is_refused(desk: Desk) -> None:
    await press(desk, "handoff_resolve", "U0AGENT01")
    assert ephemerals(desk, "U0AGENT01") == ["Claim this handoff before resolving it."]
    assert desk.rasa.triggered == []


async def test_bad_signatures_and_stale_requests_are_rejected_and_ignored(desk: Desk) -> None:
    await press(desk, "handoff_claim", "U0AGENT01")
    before = len(desk.slack.calls)
    body = message_event(desk, "U0AGENT01", "forged")
    forged = await post_signed(desk.client, body, "application/json", secret="not-the-secret")
    assert forged.status == 401
    stale = await post_signed(desk.client, body, "application/json", timestamp=int(time.time()) - 6 * 60)
    assert stale.status == 401
    unsigned = await desk.client.post("/slack/events", data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status == 401
    claim = await press(desk, "handoff_resolve", "U0AGENT01", secret="not-the-secret")
    assert claim.status == 401
    await desk.desk.drain()
    assert await transcript(desk) == []
    assert len(desk.slack.calls) == before
    assert (await desk.client.server.app[HANDOFFS].get(desk.handoff)).status == "claimed"  # type: ignore[union-attr]


async def test_a_redelivered_event_is_relayed_once(desk: Desk) -> None:
    await press(desk, "handoff_claim", "U0AGENT01")
    assert (await reply(desk, "U0AGENT01", "only once", event_id="Ev0RETRY")).status == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await reply(desk, "U0AGENT01", "only once", event_id="Ev0RETRY", extra=retry)).status == 200
    assert await transcript(desk) == [("agent", "only once")]


async def test_the_thread_mapping_survives_a_restart(desk: Desk) -> None:
    await press(desk, "handoff_claim", "U0AGENT01")
    await desk.client.close()
    desk.client = await start_gateway(desk.settings)  # a new process would read the same var_dir
    assert (await reply(desk, "U0AGENT01", "back after a restart")).status == 200
    assert await transcript(desk) == [("agent", "back after a restart")]
    await desk.client.post("/api/v1/messages", json={"conversation_id": "c-s", "text": "thanks"}, headers=CUSTOMER)
    await desk.desk.drain()
    assert thread_posts(desk)[-1] == "*Customer:* thanks"


async def test_every_message_the_desk_posts_is_recorded_for_erasure(desk: Desk) -> None:
    await desk.client.server.app[HANDOFFS].events.publish(HandoffEscalated(desk.handoff, "c-s"))
    await press(desk, "handoff_claim", "U0AGENT01")
    await press(desk, "handoff_claim", "U0AGENT02")  # an ephemeral answer: gone by itself, nothing to record
    await desk.client.post(
        "/api/v1/messages", json={"conversation_id": "c-s", "text": "still there?"}, headers=CUSTOMER
    )
    await desk.client.post(
        f"/api/v1/handoffs/{desk.handoff}/messages", json={"text": "One moment"}, headers=desk.agent("AG-01")
    )
    await desk.desk.drain()
    root_ts, _ = root_of(desk.slack)
    posts = desk_posts(desk)
    assert posts[0] == (desk.handoff, "root", CHANNEL_ID, root_ts)
    assert [kind for _, kind, _, _ in posts[1:]] == ["thread"] * 3  # the nudge, the customer, the echo
    assert {(channel, ts) for _, _, channel, ts in posts} == set(desk.slack.live)  # every message it left
    # A post for a handoff erased meanwhile is not recorded (the desk then deletes it from Slack).
    assert await SlackThreads(desk.engine).record(424242, CHANNEL_ID, "1600000000.000009") is False


async def test_a_thread_file_of_an_older_version_is_moved_into_the_database(desk: Desk) -> None:
    second, _ = HandoffRequests(desk.engine).request("c-s2", "customer_request", {}, "direct")
    legacy = desk.settings.paths.var_dir / "slack_threads.json"
    legacy.write_text(
        json.dumps(
            {
                str(second.id): {"channel": CHANNEL_ID, "ts": "1600000000.000001"},
                "424242": {"channel": CHANNEL_ID, "ts": "1600000000.000002"},  # no such handoff any more
            }
        )
    )
    await desk.client.close()
    desk.client = await start_gateway(desk.settings)
    assert not legacy.exists()
    assert (second.id, "root", CHANNEL_ID, "1600000000.000001") in desk_posts(desk)
    assert all(handoff != 424242 for handoff, _, _, _ in desk_posts(desk))
    body = thread_reply("U0AGENT01", "claim the old one", "1600000000.000001", "Ev0LEGACY", "1600000001.000001")
    assert (await post_signed(desk.client, body, "application/json")).status == 200
    await desk.desk.drain()
    assert ephemerals(desk, "U0AGENT01") == ["Claim this handoff first: your reply was not sent to the customer."]


async def test_url_verification_and_bot_messages(desk: Desk) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    resp = await post_signed(desk.client, body, "application/json")
    assert resp.status == 200 and "c-123" in await resp.text()
    await press(desk, "handoff_claim", "U0AGENT01")
    event = json.loads(message_event(desk, "U0AGENT01", "posted by a bot"))
    event["event"]["bot_id"] = "B0OTHER"
    resp = await post_signed(desk.client, json.dumps(event), "application/json")
    await desk.desk.drain()
    assert resp.status == 200 and await transcript(desk) == []


async def test_slack_route_exists_only_when_configured(gateway: tuple[TestClient, FakeRasa]) -> None:
    client, _ = gateway
    assert SLACK_DESK not in client.server.app
    assert (await client.post("/slack/events", data="{}")).status in (404, 405)


def test_translators() -> None:
    assert escape_mrkdwn("<b> & <c>") == "&lt;b&gt; &amp; &lt;c&gt;"
    assert plain_from_slack("a &lt;b&gt; &amp;amp; <mailto:x@y.example|x@y.example> <@U0AGENT02>") == (
        "a <b> &amp; x@y.example @U0AGENT02"
    )
    card = HandoffCard(handoff_id=7, reason="frustration", customer_id=None, channel="web", summary=None)
    text, blocks = root_message(card, SlackDeskTexts(), state="Expired", claimable=False, resolvable=False)
    assert text == "New handoff #7: Expired" and [b["type"] for b in blocks] == ["section", "context"]
    assert "not verified" in blocks[0]["text"]["text"] and "(no summary)" in blocks[0]["text"]["text"]


def test_slack_settings(tmp_path: Any) -> None:
    from bot.settings import SettingsError, load_settings

    base = {"BOT_VAR_DIR": str(tmp_path)}
    assert not load_settings(base).slack.enabled
    env = {**base, "BOT_SLACK_BOT_TOKEN": "xoxb-1", "BOT_SLACK_AGENTS_CHANNEL": "C1", "BOT_SLACK_APP_TOKEN": "xapp-1"}
    settings = load_settings(env)
    assert settings.slack.enabled and settings.slack.api_url == "https://slack.com/api/"
    assert settings.child_environment()["BOT_SLACK_APP_TOKEN"] == "xapp-1"
    with pytest.raises(SettingsError, match="BOT_SLACK_AGENTS_CHANNEL"):
        load_settings({**base, "BOT_SLACK_BOT_TOKEN": "xoxb-1", "BOT_SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(SettingsError, match="BOT_SLACK_SIGNING_SECRET or BOT_SLACK_APP_TOKEN"):
        load_settings({**base, "BOT_SLACK_BOT_TOKEN": "xoxb-1", "BOT_SLACK_AGENTS_CHANNEL": "C1"})
