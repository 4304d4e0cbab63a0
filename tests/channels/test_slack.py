"""Slack customers on the real gateway: real slack-bolt and slack-sdk against a fake Slack, a fake Rasa."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.db.migrate import upgrade
from bot.gateway.app import create_app
from bot.gateway.keys import INBOX
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa, start_fake_rasa
from tests.fakes.slack import (
    TEAM_ID,
    FakeSlack,
    channel_message_event,
    customer_button_press,
    deliver,
    dm_event,
    mention_event,
    start_fake_slack,
)
from tests.helpers import queue_counts, queues_settled

SIGNING_SECRET = "slack-signing-secret-for-customer-tests"
DM = "D0CUSTDM"
PUBLIC = "C0PUBLIC"


@dataclass
class SlackRig:
    """The gateway (Slack desk and customers on), the fake Slack and the fake Rasa."""

    client: TestClient
    slack: FakeSlack
    rasa: FakeRasa

    async def send(self, body: str, *, retry_num: int | None = None, content_type: str = "application/json") -> int:
        """Deliver a signed Slack request to ``/slack/events``; the HTTP status."""
        url = str(self.client.make_url("/slack/events"))
        return await deliver(
            self.client.session, url, body, SIGNING_SECRET, content_type=content_type, retry_num=retry_num
        )

    async def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(inbox, outbox) rows per state."""
        return await queue_counts(self.client.server.app)

    async def settled(self, timeout: float = 30.0) -> tuple[dict[str, int], dict[str, int]]:
        """Wait until nothing is left to process or send; the final counts."""
        return await queues_settled(self.client.server.app, timeout)


@pytest.fixture
async def rig(settings: Settings, database_url: str) -> AsyncIterator[SlackRig]:
    """On SQLite and on PostgreSQL; any unexpected Slack API call fails the test."""
    rasa, rasa_server = await start_fake_rasa(settings.dialogue.token, settings.dialogue.channel_secret)
    slack, slack_server = await start_fake_slack()
    settings = settings.with_overrides(
        database_url=database_url,
        dialogue={"rasa_port": rasa_server.port},
        slack={
            "bot_token": "xoxb-customer-tests",
            "signing_secret": SIGNING_SECRET,
            "agents_channel": "#support-agents",
            "api_url": str(slack_server.make_url("/api/")),
        },
    )
    upgrade(settings.database_url)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield SlackRig(client, slack, rasa)
    finally:
        await client.close()
        await slack_server.close()
        await rasa_server.close()
    assert slack.unknown == [], f"unexpected Slack API calls: {slack.unknown}"


def texts(posts: list[dict[str, Any]]) -> list[str]:
    return [post["text"] for post in posts]


async def test_the_same_event_delivered_four_times_gets_one_reply(rig: SlackRig) -> None:
    body = dm_event("U0ANA", "hello bot", event_id="Ev0001", ts="1700000100.000100")
    statuses = [await rig.send(body)] + [await rig.send(body, retry_num=n) for n in (1, 2, 3)]
    assert statuses == [200, 200, 200, 200]
    posted = await rig.slack.wait_posted(DM, 1)
    assert texts(posted) == ["you said: hello bot"]
    assert await rig.settled() == ({"done": 1}, {"sent": 1})
    await asyncio.sleep(0.5)
    assert len(rig.slack.posted(DM)) == 1 and len(rig.rasa.received) == 1
    assert rig.rasa.received[0]["metadata"]["channel"] == "slack"
    assert rig.rasa.received[0]["metadata"]["channel_user"] == "U0ANA"


async def test_forged_or_stale_requests_are_refused_and_nothing_is_stored(rig: SlackRig) -> None:
    from tests.fakes.slack import signed_headers

    body = dm_event("U0ANA", "hello", event_id="Ev0002", ts="1700000100.000200")
    url = str(rig.client.make_url("/slack/events"))
    forged = signed_headers(body, "not-the-secret", "application/json")
    stale = signed_headers(body, SIGNING_SECRET, "application/json", timestamp=int(time.time()) - 6 * 60)
    for headers in (forged, stale, {"Content-Type": "application/json"}):
        async with rig.client.session.post(url, data=body, headers=headers) as response:
            assert response.status == 401
    await asyncio.sleep(0.3)
    assert await rig.counts() == ({}, {})
    assert rig.rasa.received == [] and rig.slack.posted() == []


async def test_a_mention_is_answered_in_its_thread_and_the_thread_goes_on(rig: SlackRig) -> None:
    mention = mention_event("U0BEN", "hi", event_id="Ev0010", ts="1700000200.000100")
    # Slack sends the same message as app_mention and (subscribed to message.channels) as a message.
    copy = channel_message_event("U0BEN", "<@U0BOTUSER> hi", event_id="Ev0011", ts="1700000200.000100")
    assert await rig.send(mention) == 200 and await rig.send(copy) == 200
    answer = (await rig.slack.wait_posted(PUBLIC, 1))[0]
    assert answer["thread_ts"] == "1700000200.000100" and answer["text"] == "Hi! How can I help?"
    follow_up = channel_message_event(
        "U0BEN", "and the price?", event_id="Ev0012", ts="1700000201.000100", thread_ts="1700000200.000100"
    )
    elsewhere = channel_message_event("U0CAT", "lunch?", event_id="Ev0013", ts="1700000202.000100")
    other_thread = channel_message_event(
        "U0CAT", "me too", event_id="Ev0014", ts="1700000203.000100", thread_ts="1699999999.000100"
    )
    for body in (follow_up, elsewhere, other_thread):
        assert await rig.send(body) == 200
    posted = await rig.slack.wait_posted(PUBLIC, 2)
    assert posted[1]["text"] == "you said: and the price?" and posted[1]["thread_ts"] == "1700000200.000100"
    await rig.settled()
    await asyncio.sleep(0.5)
    assert [r["message"] for r in rig.rasa.received] == ["hi", "and the price?"]  # one turn per message
    conversation = f"slack-{TEAM_ID}-{PUBLIC}-1700000200.000100"
    assert {r["sender"] for r in rig.rasa.received} == {conversation}


async def test_buttons_are_block_kit_and_a_press_sends_the_payload(rig: SlackRig) -> None:
    assert await rig.send(dm_event("U0ANA", "hi", event_id="Ev0020", ts="1700000300.000100")) == 200
    greeting = (await rig.slack.wait_posted(DM, 1))[0]
    actions = next(block for block in greeting["blocks"] if block["type"] == "actions")
    button = actions["elements"][0]
    assert button["text"]["text"] == "Track my order"
    press = customer_button_press(
        "U0ANA",
        channel=DM,
        message_ts="1700000300.000200",
        action_id=button["action_id"],
        value=button["value"],
        trigger_id="trigger-1",
    )
    assert await rig.send(press, content_type="application/x-www-form-urlencoded") == 200
    await rig.slack.wait_posted(DM, 2)
    assert rig.rasa.received[-1]["message"] == "/order_status"  # the payload, not the title
    assert await rig.settled() == ({"done": 2}, {"sent": 2})


async def test_customer_text_is_escaped_in_mrkdwn(rig: SlackRig) -> None:
    # Slack delivers "<b> & <!channel>" typed by the customer entity-encoded; the fake Rasa echoes it.
    body = dm_event("U0ANA", "&lt;b&gt; &amp; &lt;!channel&gt;", event_id="Ev0030", ts="1700000400.000100")
    assert await rig.send(body) == 200
    posted = (await rig.slack.wait_posted(DM, 1))[0]
    assert rig.rasa.received[0]["message"] == "<b> & <!channel>"
    assert posted["text"] == "you said: &lt;b&gt; &amp; &lt;!channel&gt;"
    assert "<!channel>" not in json.dumps(posted["blocks"])


async def test_429s_are_honoured_and_replies_to_one_channel_are_paced(rig: SlackRig) -> None:
    rig.slack.fail_next("chat.postMessage", "429", count=3, retry_after=1)
    assert await rig.send(dm_event("U0ANA", "two", event_id="Ev0040", ts="1700000500.000100")) == 200
    posted = await rig.slack.wait_posted(DM, 2, timeout=20)
    assert texts(posted) == ["first", "second"]
    attempts = [c for c in rig.slack.calls if c.method == "chat.postMessage" and c.args.get("channel") == DM]
    assert [c.outcome for c in attempts] == ["429", "429", "429", "ok", "ok"]
    gaps = [later.at - earlier.at for earlier, later in pairwise(attempts)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After honoured, then one message a second
    assert await rig.settled() == ({"done": 1}, {"sent": 2})


async def test_socket_mode_acknowledges_after_storing(settings: Settings) -> None:
    rasa, rasa_server = await start_fake_rasa(settings.dialogue.token, settings.dialogue.channel_secret)
    slack, slack_server = await start_fake_slack()
    tuned = settings.with_overrides(
        dialogue={"rasa_port": rasa_server.port},
        slack={
            "bot_token": "xoxb-customer-tests",
            "app_token": "xapp-customer-tests",
            "signing_secret": "",
            "agents_channel": "#support-agents",
            "api_url": str(slack_server.make_url("/api/")),
        },
    )
    upgrade(tuned.database_url)
    client = TestClient(TestServer(create_app(tuned), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        payload = json.loads(dm_event("U0ANA", "over the socket", event_id="Ev0050", ts="1700000600.000100"))
        envelope = {"type": "events_api", "payload": payload}
        await slack.push_envelope(envelope)
        assert (await client.server.app[INBOX].counts()) in ({"pending": 1}, {"stored": 1}, {"done": 1})
        await slack.push_envelope({**envelope, "retry_attempt": 1, "retry_reason": "timeout"})  # redelivered
        posted = await slack.wait_posted(DM, 1)
        assert texts(posted) == ["you said: over the socket"]
        await asyncio.sleep(0.5)
        assert len(slack.posted(DM)) == 1 and len(rasa.received) == 1
    finally:
        await client.close()
        await slack_server.close()
        await rasa_server.close()


@pytest.mark.parametrize(
    ("age_s", "status"),
    [(-295, 200), (0, 200), (295, 200), (305, 401), (-305, 401)],
    ids=["295s-ahead", "now", "295s-old", "305s-old", "305s-ahead"],
)
async def test_the_signature_window_is_five_minutes_either_way(rig: SlackRig, age_s: int, status: int) -> None:
    """Slack's replay window at its edges: within 5 minutes of the clock, either way, and not beyond."""
    from tests.fakes.slack import signed_headers

    body = dm_event("U0EDGE", "edge", event_id=f"EvEdge{age_s}", ts="1700000400.000100")
    headers = signed_headers(body, SIGNING_SECRET, "application/json", timestamp=int(time.time()) - age_s)
    async with rig.client.session.post(str(rig.client.make_url("/slack/events")), data=body, headers=headers) as r:
        assert r.status == status
    inbox, _ = await rig.counts()
    assert sum(inbox.values()) == (1 if status == 200 else 0)
