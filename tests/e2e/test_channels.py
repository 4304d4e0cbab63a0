"""Telegram and Slack customers end to end: a second gateway process on the stack's Rasa and database.

The session ``stack`` runs Rasa, the action server and a gateway; this module starts one more
``python -m bot gateway`` (replica ``e2e-channels``) with Telegram and Slack customers switched on,
pointed at a fake Telegram Bot API and a fake Slack Web API served from this process. Updates and
events are POSTed to it as the platforms do (webhook secret, Slack signature); the replies are read
from the fakes. Both gateways share the database, so the stack's gateway (Slack on, its own fake
Slack) may also process a stored Slack event or send a Slack outbox row: Slack posts are read from
both fakes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.db.engine import create_db_engine
from bot.diagnostics import DiagnosticTree
from bot.settings import PROJECT_ROOT
from bot.slack.mrkdwn import escape_mrkdwn
from tests.e2e.test_guides import GUIDES, OPENERS, _path_to
from tests.fakes.slack import FakeSlack, customer_button_press, dm_event, mention_event
from tests.fakes.slack import deliver as slack_deliver
from tests.fakes.telegram import TOKEN, FakeTelegram, base_url
from tests.helpers import free_port
from tests.mail import MailSink
from tests.orders import add_customer, add_order
from tests.stack import (
    E2E_CHANNEL_SECRET,
    E2E_IDENTITY_SECRET,
    E2E_SLACK_SIGNING_SECRET,
    E2E_TURN_SECRET,
    Gateway,
    RunningStack,
    serve_in_thread,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
TG_SECRET = "e2e-telegram-webhook-secret"
SLACK_USER = "U0CUSTOMER1"
TEAM = "T0NIMBUS"
LENA = "AG-01"  # data/agents.yml
OPEN_INBOX = ("pending", "stored")
OPEN_OUTBOX = ("pending", "sending")
_ids = itertools.count(1)


# -- the second gateway --------------------------------------------------------------------------


@dataclass
class Rig:
    """The second gateway, its fakes, the shared database."""

    stack: RunningStack
    gateway: Gateway
    telegram: FakeTelegram
    slack: FakeSlack
    stack_slack: FakeSlack
    engine: sa.engine.Engine
    seen_calls: dict[str, int] = field(default_factory=dict)

    @property
    def webhook(self) -> str:
        return f"{self.gateway.url}/telegram/webhook"

    @property
    def slack_events(self) -> str:
        return f"{self.gateway.url}/slack/events"

    def slack_posted(self, channel: str) -> list[dict[str, Any]]:
        """``chat.postMessage`` calls to ``channel`` on either fake Slack, in the order they arrived."""
        calls = [
            c
            for fake in (self.slack, self.stack_slack)
            for c in list(fake.calls)
            if c.method == "chat.postMessage" and c.outcome == "ok" and c.args.get("channel") == channel
        ]
        return [c.args for c in sorted(calls, key=lambda c: c.at)]

    # -- database ---------------------------------------------------------------------------

    def _query(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def bot_texts(self, conversation: str) -> list[str]:
        """Texts of the bot, agent and system messages of a conversation, in order (what must be sent)."""
        rows = self._query(
            "SELECT text FROM messages WHERE conversation_id = :c AND sender != 'customer' ORDER BY id", c=conversation
        )
        return [row.text for row in rows]

    def open_work(self, conversation: str) -> int:
        """Inbox events and outbox rows of a conversation still to be processed or sent."""
        inbox = self._query(
            "SELECT count(*) AS n FROM channel_inbox WHERE conversation_id = :c AND state IN ('pending', 'stored')",
            c=conversation,
        )[0].n
        outbox = self._query(
            "SELECT count(*) AS n FROM channel_outbox WHERE conversation_id = :c AND state IN ('pending', 'sending')",
            c=conversation,
        )[0].n
        return int(inbox) + int(outbox)

    def outbox_states(self, conversation: str) -> dict[str, int]:
        rows = self._query(
            "SELECT state, count(*) AS n FROM channel_outbox WHERE conversation_id = :c GROUP BY state",
            c=conversation,
        )
        return {row.state: int(row.n) for row in rows}

    async def settled(
        self, conversation: str, sent_count: Callable[[], int], timeout: float = 40, quiet: float = 0.3
    ) -> None:
        """Wait until the conversation has nothing left to process or send and every row reached the fake."""
        deadline = time.monotonic() + timeout
        calm_since: float | None = None
        while True:
            work = await asyncio.to_thread(self.open_work, conversation)
            states = await asyncio.to_thread(self.outbox_states, conversation)
            done = work == 0 and sent_count() >= states.get("sent", 0)
            now = time.monotonic()
            if done:
                calm_since = calm_since or now
                if now - calm_since >= quiet:
                    return
            else:
                calm_since = None
            if now > deadline:
                raise AssertionError(
                    f"{conversation} not settled: open={work} outbox={states} sent={sent_count()}\n"
                    f"{self.gateway.log_tail()}"
                )
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def rig(
    stack: RunningStack, slack_api: tuple[FakeSlack, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    """A second gateway (Telegram + Slack customers) sharing the stack's Rasa, database and tokens."""
    telegram, slack = FakeTelegram(), FakeSlack()
    var_dir = tmp_path_factory.mktemp("gateway2") / "var"
    var_dir.mkdir(parents=True)
    with serve_in_thread(telegram.app()) as telegram_port, serve_in_thread(slack.app()) as slack_port:
        gateway_port = free_port()
        env = {
            **os.environ,
            "BOT_ENV": "development",
            "BOT_VAR_DIR": str(var_dir),
            "BOT_DATABASE_URL": stack.database_url,
            "BOT_TRACKER_URL": stack.tracker_url,
            "BOT_RASA_PORT": str(int(stack.rasa_url.rsplit(":", 1)[1])),
            "BOT_RASA_TOKEN": stack.rasa_token,
            "BOT_API_TOKEN": stack.api_token,
            "BOT_IDENTITY_SECRET": E2E_IDENTITY_SECRET,
            "BOT_RASA_CHANNEL_SECRET": E2E_CHANNEL_SECRET,
            "BOT_TURN_SECRET": E2E_TURN_SECRET,
            "BOT_ACTION_PORT": stack.action_url.rsplit(":", 1)[1],
            "BOT_GATEWAY_PORT": str(gateway_port),
            "BOT_REPLICA_ID": "e2e-channels",
            "BOT_TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_TELEGRAM_API_URL": base_url(f"http://127.0.0.1:{telegram_port}/"),
            "BOT_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "BOT_SLACK_BOT_TOKEN": "xoxb-e2e-channels-token",
            "BOT_SLACK_SIGNING_SECRET": E2E_SLACK_SIGNING_SECRET,
            "BOT_SLACK_AGENTS_CHANNEL": "#support-agents",
            "BOT_SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
            "BOT_SLACK_CUSTOMERS": "1",
        }
        for key in ("BOT_SLACK_APP_TOKEN", "BOT_TELEGRAM_MODE", "BOT_TELEGRAM_WEBHOOK_URL"):
            env.pop(key, None)
        gateway = Gateway(env, f"http://127.0.0.1:{gateway_port}", var_dir / "gateway.out")
        engine = create_db_engine(stack.database_url)
        gateway.start()
        try:
            yield Rig(stack, gateway, telegram, slack, slack_api[0], engine)
        finally:
            gateway.stop(kill=False)
            engine.dispose()
    assert telegram.unknown == [], telegram.unknown
    assert slack.unknown == [], slack.unknown


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:
        yield client


# -- Telegram helpers ----------------------------------------------------------------------------


class TelegramChat:
    """One private chat with the bot: send, press, and read what the bot sent since the last step."""

    def __init__(self, rig: Rig, session: aiohttp.ClientSession, chat_id: int) -> None:
        self.rig, self.session, self.chat_id = rig, session, chat_id
        self.conversation = f"telegram-{chat_id}"
        self.read = 0

    def sent(self) -> list[dict[str, Any]]:
        return self.rig.telegram.sent(self.chat_id)

    async def deliver(self, update: dict[str, Any]) -> None:
        status = await self.rig.telegram.deliver(self.session, self.rig.webhook, update, TG_SECRET)
        assert status == 200, status

    async def turn(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Deliver an update, wait until its replies were all sent; the new messages."""
        await self.deliver(update)
        await self.rig.settled(self.conversation, lambda: len(self.sent()))
        new = self.sent()[self.read :]
        self.read += len(new)
        return new

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.turn(self.rig.telegram.text_update(self.chat_id, text))

    def message_id(self, text: str) -> int:
        """The id the fake gave the newest message it sent to this chat with ``text``."""
        ids = [
            mid
            for (chat, mid), m in list(self.rig.telegram._messages.items())
            if chat == self.chat_id and m["text"] == text
        ]
        assert ids, text
        return max(ids)

    async def press(self, message: dict[str, Any], title: str) -> list[dict[str, Any]]:
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        data = next((b["callback_data"] for row in keyboard for b in row if b["text"] == title), None)
        assert data is not None, (title, keyboard)
        update = self.rig.telegram.callback_update(self.chat_id, data, message_id=self.message_id(message["text"]))
        return await self.turn(update)

    def assert_each_sent_once(self) -> None:
        """Every bot/agent/system message of the conversation reached the chat exactly once, in order."""
        expected = [text or "…" for text in self.rig.bot_texts(self.conversation)]
        assert [m["text"] for m in self.sent()] == expected
        assert self.rig.outbox_states(self.conversation) == {"sent": len(expected)}


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


def step_message(messages: list[dict[str, Any]], tree: DiagnosticTree, node_id: str) -> dict[str, Any]:
    step = tree.node(node_id).text.strip()
    found = [m for m in messages if m.get("text") == step]
    assert found, f"expected step {tree.id}/{node_id}, got {texts(messages)}"
    return found[-1]


# -- 1. a guide on Telegram ----------------------------------------------------------------------


async def test_wifi_guide_completed_on_telegram_with_buttons(rig: Rig, session: aiohttp.ClientSession) -> None:
    tree = GUIDES["wifi_drops"]
    chat = TelegramChat(rig, session, 700_001)
    new = await chat.say(OPENERS["wifi_drops"])
    path = _path_to(tree, "resolved")
    seen = list(new)
    for node_id, index in path:
        message = step_message(new, tree, node_id)
        buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
        titles = [o.title for o in tree.node(node_id).options]
        assert buttons[: len(titles)] == titles, buttons
        new = await chat.press(message, titles[index])
        seen += new
    resolved = tree.node(tree.node(path[-1][0]).options[path[-1][1]].next)
    assert resolved.text.strip() in texts(new), texts(new)
    assert any("how did i do?" in t.lower() for t in texts(new)), texts(new)  # the bot's own rating, 1-5
    chat.assert_each_sent_once()
    assert len(rig.telegram.called("answerCallbackQuery")) >= len(path)
    assert all(m.get("parse_mode") is None for m in seen)


# -- 2. a guide on Slack -------------------------------------------------------------------------


class SlackChat:
    """A Slack DM (or a thread in a channel) with the bot."""

    def __init__(self, rig: Rig, session: aiohttp.ClientSession, channel: str, thread_ts: str | None = None) -> None:
        self.rig, self.session, self.channel, self.thread_ts = rig, session, channel, thread_ts
        self.conversation = f"slack-{TEAM}-{channel}" + (f"-{thread_ts}" if thread_ts else "")
        self.read = 0

    def posted(self) -> list[dict[str, Any]]:
        return [p for p in self.rig.slack_posted(self.channel) if p.get("thread_ts") == self.thread_ts]

    async def turn(self, body: str) -> list[dict[str, Any]]:
        status = await slack_deliver(self.session, self.rig.slack_events, body, E2E_SLACK_SIGNING_SECRET)
        assert status == 200, status
        await self.rig.settled(self.conversation, lambda: len(self.posted()))
        new = self.posted()[self.read :]
        self.read += len(new)
        return new

    async def say(self, text: str) -> list[dict[str, Any]]:
        n = next(_ids)
        return await self.turn(
            dm_event(SLACK_USER, text, event_id=f"EvCh{n:06d}", ts=f"1700100000.{n:06d}", channel=self.channel)
        )

    async def press(self, message: dict[str, Any], title: str) -> list[dict[str, Any]]:
        elements = [e for block in message.get("blocks") or [] if block["type"] == "actions" for e in block["elements"]]
        button = next((e for e in elements if e["text"]["text"] == title), None)
        assert button is not None, (title, elements)
        n = next(_ids)
        body = customer_button_press(
            SLACK_USER,
            channel=self.channel,
            message_ts=f"1700000000.{n:06d}",
            action_id=button["action_id"],
            value=button["value"],
            trigger_id=f"trigger.{n}.e2e",
            thread_ts=self.thread_ts,
        )
        return await self.turn(body)

    def assert_each_posted_once(self) -> None:
        expected = [escape_mrkdwn(text or "…") for text in self.rig.bot_texts(self.conversation)]
        assert [p["text"] for p in self.posted()] == expected
        assert self.rig.outbox_states(self.conversation) == {"sent": len(expected)}


def slack_step(messages: list[dict[str, Any]], tree: DiagnosticTree, node_id: str) -> dict[str, Any]:
    step = escape_mrkdwn(tree.node(node_id).text.strip())
    found = [m for m in messages if m.get("text") == step]
    assert found, f"expected step {tree.id}/{node_id}, got {texts(messages)}"
    return found[-1]


async def test_guide_completed_on_slack_with_buttons(rig: Rig, session: aiohttp.ClientSession) -> None:
    tree = GUIDES["wifi_drops"]
    dm = SlackChat(rig, session, "D0E2EGUIDE")
    new = await dm.say(OPENERS["wifi_drops"])
    path = _path_to(tree, "resolved")
    for node_id, index in path:
        message = slack_step(new, tree, node_id)
        new = await dm.press(message, tree.node(node_id).options[index].title)
    resolved = tree.node(tree.node(path[-1][0]).options[path[-1][1]].next)
    assert escape_mrkdwn(resolved.text.strip()) in texts(new), texts(new)
    assert any("how did i do?" in t.lower() for t in texts(new)), texts(new)  # the bot's own rating, 1-5
    dm.assert_each_posted_once()

    # A mention in a public channel is answered in its thread.
    n = next(_ids)
    mention_ts = f"1700200000.{n:06d}"
    thread = SlackChat(rig, session, "C0E2EPUBLIC", thread_ts=mention_ts)
    body = mention_event(
        SLACK_USER, "how much is the mesh duo?", event_id=f"EvMe{n:06d}", ts=mention_ts, channel="C0E2EPUBLIC"
    )
    new = await thread.turn(body)
    assert any("Mesh Duo costs €199.99" in t for t in texts(new)), texts(new)
    assert all(p.get("thread_ts") == mention_ts for p in new)
    thread.assert_each_posted_once()

    # Text the customer (or an agent) typed reaches Slack escaped: no @channel, no markup. The bot
    # itself echoes no free text (an unknown product name is not extracted by the NLU, so the
    # reply is the generic "no product by that name"), so the echo comes from an agent's reply.
    escape = SlackChat(rig, session, "D0E2EESCAPE")
    probe = await escape.say("how much is the nimbus &lt;!channel&gt; &lt;b&gt;blaster&amp;co?")  # Slack-encoded
    assert probe and all("<!channel>" not in t and "<b>" not in t for t in texts(probe)), texts(probe)
    await escape.say("I want to talk to a real person please")
    handoff_id = await open_handoff(rig, session, escape.conversation)
    await agent_post(rig, session, f"handoffs/{handoff_id}/claim", {})
    typed = "Hi <!channel>, this is <b>Lena</b> & co <https://evil.example|click>"
    await agent_post(rig, session, f"handoffs/{handoff_id}/messages", {"text": typed})
    await rig.settled(escape.conversation, lambda: len(escape.posted()))
    relayed = [p for p in escape.posted() if "Lena" in p["text"]]
    assert len(relayed) == 1, texts(escape.posted())
    assert relayed[0]["text"] == escape_mrkdwn(typed), relayed[0]["text"]
    for post in escape.posted():
        shown = [post["text"], *[(b.get("text") or {}).get("text", "") for b in post.get("blocks") or []]]
        assert not any("<!channel>" in t or "<b>" in t or "<https" in t for t in shown), shown
    await agent_post(rig, session, f"handoffs/{handoff_id}/resolve", {})
    await rig.settled(escape.conversation, lambda: len(escape.posted()))
    escape.assert_each_posted_once()


# -- 2b. a help-center answer on each push channel -----------------------------------------------


async def test_help_answers_with_feedback_buttons_on_telegram_and_slack(
    rig: Rig, session: aiohttp.ClientSession
) -> None:
    chat = TelegramChat(rig, session, 700_009)
    new = await chat.say("can i pay with klarna?")
    [answer] = [m for m in new if "Did that answer your question?" in m["text"]]
    assert "/help/payment-methods" in answer["text"] and answer.get("parse_mode") is None
    keys = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
    assert keys == ["Yes, thanks", "No"]
    thanks = await chat.press(answer, "Yes, thanks")
    assert any("glad that helped" in t for t in texts(thanks)), texts(thanks)
    chat.assert_each_sent_once()

    dm = SlackChat(rig, session, "D0E2EHELP")
    new = await dm.say("which of your emails can't i switch off")
    [answer] = [m for m in new if "Did that answer your question?" in m["text"]]
    assert "/help/newsletter" in answer["text"]
    sorry = await dm.press(answer, "No")
    titles = [
        e["text"]["text"] for m in sorry for b in m.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]
    ]
    assert titles[-1] == "Talk to a person" and len(titles) == 2, titles
    dm.assert_each_posted_once()


async def test_a_self_service_action_on_telegram_and_on_slack(
    rig: Rig, session: aiohttp.ClientSession, mailbox: MailSink
) -> None:
    """A customer verifies by an emailed code in the chat, then cancels an order (Telegram) and
    unsubscribes from marketing (Slack); a second tap of Yes changes nothing again."""
    customer, email = add_customer(rig.engine)
    number = add_order(rig.engine, customer, "processing", method="card")
    chat = TelegramChat(rig, session, 700_010)
    await chat.say("verify me")
    await chat.say(email)
    await chat.say(mailbox.codes_for(email)[-1])
    new = await chat.say(f"cancel order {number}")
    [question] = [m for m in new if f"Cancel order {number}" in m["text"]]
    keys = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert keys == ["Yes, go ahead", "No, leave it"]
    done = await chat.press(question, "Yes, go ahead")
    assert any(f"order {number} is cancelled" in t and "€129.99 goes back to your card" in t for t in texts(done))
    again = await chat.press(question, "Yes, go ahead")
    assert any("already taken care of" in t for t in texts(again)), texts(again)
    with rig.engine.connect() as connection:
        status = connection.execute(sa.text("SELECT status FROM orders WHERE number = :n"), {"n": number}).scalar()
        refunds = connection.execute(sa.text("SELECT count(*) FROM refunds WHERE order_number = :n"), {"n": number})
        assert (status, refunds.scalar()) == ("cancelled", 1)
    chat.assert_each_sent_once()

    dm = SlackChat(rig, session, "D0E2ESELF")
    await dm.say("link my account")
    await dm.say(email)
    await dm.say(mailbox.codes_for(email)[-1])
    new = await dm.say("please stop sending me marketing emails")
    [question] = [m for m in new if "Unsubscribe you from all our marketing emails" in m["text"]]
    done = await dm.press(question, "Yes, go ahead")
    assert any("you won't get marketing emails or SMS from us any more" in m["text"] for m in done)
    with rig.engine.connect() as connection:
        opted_in = connection.execute(
            sa.text("SELECT marketing_opt_in FROM customers WHERE id = :c"), {"c": customer}
        ).scalar()
    assert opted_in in (False, 0)
    dm.assert_each_posted_once()


# -- 3. a handoff with a Telegram customer -------------------------------------------------------


def agent_headers(rig: Rig) -> dict[str, str]:
    """Lena's own token (the stack's demo agent): it works on any gateway of the same database."""
    return {"Authorization": f"Bearer {rig.stack.agent_token}"}


async def agent_get(rig: Rig, session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(f"{rig.gateway.url}/api/v1/{path}", headers=agent_headers(rig)) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def agent_post(rig: Rig, session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with session.post(f"{rig.gateway.url}/api/v1/{path}", json=body, headers=agent_headers(rig)) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def open_handoff(rig: Rig, session: aiohttp.ClientSession, conversation: str) -> int:
    """The id of the conversation's only handoff, which must be open."""
    handoffs = (await agent_get(rig, session, "handoffs"))["handoffs"]
    mine = [h for h in handoffs if h["conversation_id"] == conversation]
    assert len(mine) == 1 and mine[0]["status"] == "open", mine
    return int(mine[0]["id"])


async def test_handoff_relayed_to_and_from_a_telegram_customer(rig: Rig, session: aiohttp.ClientSession) -> None:
    chat = TelegramChat(rig, session, 700_003)
    new = await chat.say("I want to talk to a real person please")
    assert new, "the bot said nothing"
    handoff_id = await open_handoff(rig, session, chat.conversation)

    claimed = await agent_post(rig, session, f"handoffs/{handoff_id}/claim", {})
    assert claimed["agent_id"] == LENA  # the token's agent
    reply = "Hi, this is Lena from Nimbus support. Which router do you have?"
    await agent_post(rig, session, f"handoffs/{handoff_id}/messages", {"text": reply})
    await rig.settled(chat.conversation, lambda: len(chat.sent()))
    new = chat.sent()[chat.read :]
    chat.read += len(new)
    assert any(reply in t for t in texts(new)), texts(new)

    answer = "It's the Velo AX3000 and the light is red"
    new = await chat.say(answer)
    await asyncio.sleep(1.5)  # the bot must stay silent while the agent holds the conversation
    assert new == [] and chat.sent()[chat.read :] == [], texts(new + chat.sent()[chat.read :])
    detail = await agent_get(rig, session, f"handoffs/{handoff_id}")
    customer_says = [m["text"] for m in detail["messages"] if m["sender"] == "customer"]
    assert answer in customer_says, customer_says
    assert detail["status"] == "claimed"

    resolved = await agent_post(rig, session, f"handoffs/{handoff_id}/resolve", {})
    assert resolved["status"] == "resolved"
    await rig.settled(chat.conversation, lambda: len(chat.sent()))
    new = chat.sent()[chat.read :]
    csat = [m for m in new if "How happy are you" in m.get("text", "")]
    assert csat, texts(new)
    buttons = [b["text"] for row in csat[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["1", "2", "3", "4", "5"], buttons
    chat.assert_each_sent_once()


# -- 4. SIGKILL mid-conversation -----------------------------------------------------------------

PRODUCTS = [
    ("the mesh duo", "Mesh Duo costs €199.99"),
    ("the velo ax3000", "Velo AX3000 costs €129.99"),
    ("the nimbus mesh trio", "Mesh Trio costs €279.99"),
    ("the ax6000 pro", "AX6000 Pro costs €249.99"),
]


async def test_sigkill_mid_conversation_loses_and_duplicates_nothing(rig: Rig, session: aiohttp.ClientSession) -> None:
    chats = [710_001, 710_002, 710_003]
    updates = {chat: [rig.telegram.text_update(chat, f"how much is {name}?") for name, _ in PRODUCTS] for chat in chats}
    acked: dict[int, float] = {}  # update id -> when it was acknowledged
    unacked: dict[int, list[dict[str, Any]]] = {chat: [] for chat in chats}
    killed_at: list[float] = []

    async def send_chat(chat: int) -> None:
        for number, update in enumerate(updates[chat]):
            if unacked[chat]:  # Telegram keeps the order: nothing newer before the failed one
                unacked[chat].append(update)
                continue
            try:
                status = await rig.telegram.deliver(session, rig.webhook, update, TG_SECRET)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            if status == 200:
                acked[update["update_id"]] = time.monotonic()
            else:
                unacked[chat].append(update)
            if number < len(updates[chat]) - 1:
                await asyncio.sleep(0.6)

    at_kill: dict[str, int] = {}

    async def kill_and_restart() -> None:
        # Kill once the outbox has started sending (more answers queued behind the pace), at most 3 s in.
        deadline = time.monotonic() + 3
        while not any(rig.telegram.sent(chat) for chat in chats) and time.monotonic() < deadline:  # noqa: ASYNC110 (fake on another loop)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        killed_at.append(time.monotonic())
        await asyncio.to_thread(rig.gateway.stop, kill=True)
        at_kill["sent"] = sum(len(rig.telegram.sent(chat)) for chat in chats)
        conversations = [f"telegram-{chat}" for chat in chats]
        at_kill["open"] = sum(await asyncio.to_thread(lambda: [rig.open_work(c) for c in conversations]))
        await asyncio.sleep(0.5)  # deliveries now fail: Telegram keeps them
        await asyncio.to_thread(rig.gateway.start)

    started = time.monotonic()
    await asyncio.gather(kill_and_restart(), *(send_chat(chat) for chat in chats))
    acked_before_kill = sum(1 for at in acked.values() if at < killed_at[0])
    redelivered = 0
    for chat in chats:
        for update in unacked[chat]:
            status = await rig.telegram.deliver(session, rig.webhook, update, TG_SECRET)
            assert status == 200, status
            redelivered += 1

    async def answers(chat: int) -> list[str]:
        deadline = time.monotonic() + 45
        while True:
            found = [p for t in texts(rig.telegram.sent(chat)) for _, p in PRODUCTS if p in t]
            if len(set(found)) == len(PRODUCTS) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)

    await asyncio.gather(*(answers(chat) for chat in chats))
    for chat in chats:
        await rig.settled(f"telegram-{chat}", lambda chat=chat: len(rig.telegram.sent(chat)), timeout=30)
    got = {chat: [p for t in texts(rig.telegram.sent(chat)) for _, p in PRODUCTS if p in t] for chat in chats}
    all_sent = {chat: texts(rig.telegram.sent(chat)) for chat in chats}
    expected = [p for _, p in PRODUCTS]
    answers_sent = sum(len(found) for found in got.values())
    duplicates = sum(len(found) - len(set(found)) for found in got.values())
    stored = {chat: rig.bot_texts(f"telegram-{chat}") for chat in chats}
    duplicate_messages = sum(len(all_sent[chat]) - len(stored[chat]) for chat in chats)
    result = {
        "chats": len(chats),
        "updates": sum(len(u) for u in updates.values()),
        "acknowledged_before_kill": acked_before_kill,
        "acknowledged_in_first_pass": len(acked),
        "answers_sent_before_kill": at_kill.get("sent"),
        "inbox_and_outbox_open_at_kill": at_kill.get("open"),
        "redelivered": redelivered,
        "answers_sent": answers_sent,
        "duplicate_answers": duplicates,
        "duplicate_messages": duplicate_messages,
        "messages_stored": sum(len(s) for s in stored.values()),
        "messages_sent": sum(len(s) for s in all_sent.values()),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\nkill test: {json.dumps(result)}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "kill_test.json").write_text(json.dumps({**result, "sent": all_sent, "stored": stored}, indent=2))

    for chat in chats:
        assert list(dict.fromkeys(got[chat])) == expected, (chat, got[chat], all_sent[chat])
        assert sent_with_at_most_one_extra(all_sent[chat], stored[chat]), (chat, all_sent[chat], stored[chat])
    assert duplicates <= 1, result
    assert duplicate_messages <= 1, result


def sent_with_at_most_one_extra(sent: list[str], stored: list[str]) -> bool:
    """Whether ``sent`` is ``stored`` (in order), or ``stored`` with one message sent twice in a row."""
    if sent == stored:
        return True
    if len(sent) != len(stored) + 1:
        return False
    return any(sent[i] == sent[i + 1] and sent[:i] + sent[i + 1 :] == stored for i in range(len(sent) - 1))
