"""Proactive follow-up end to end, on a stack of its own whose support team is out of the office today.

The module starts ``python -m bot run`` (Rasa, the action server, the gateway with Telegram on,
pointed at a fake Bot API) on a copy of ``data/`` whose ``business_hours.yml`` makes today and
tomorrow holidays: the stack's action server, which tells a customer when the team is back, and
its gateway's timers both see the team closed, whatever the clock says. The session ``stack`` is
not used: its action server reads the real hours.

* An out-of-hours handoff: the Telegram customer is told when the team is back and leaves (writes
  nothing more); an agent claims it later and replies through the agent API; the answer reaches the
  Telegram chat, once.
* An order marked shipped (reported three times at once, and once more) notifies the customer who
  linked the chat and sent ``/notify on``, once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
import yaml

from bot.db.engine import create_db_engine
from bot.handoff.hours import BusinessHours, load_hours
from bot.notifications.texts import NotificationTexts, load_notification_texts
from bot.settings import PROJECT_ROOT
from bot.training import ensure_model
from tests.fakes.telegram import TOKEN, FakeTelegram, base_url
from tests.orders import add_customer, add_order
from tests.stack import RunningStack, serve_in_thread, start_stack

pytestmark = pytest.mark.e2e

TG_SECRET = "e2e-follow-up-webhook-secret"
LENA = "AG-01"  # data/agents.yml


@dataclass
class FollowUpStack:
    """The stack, its fake Telegram, the database they share, the hours and texts it runs with."""

    stack: RunningStack
    telegram: FakeTelegram
    engine: sa.engine.Engine
    hours: BusinessHours
    texts: NotificationTexts

    @property
    def webhook(self) -> str:
        return f"{self.stack.gateway_url}/telegram/webhook"

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def bot_texts(self, conversation: str) -> list[str]:
        """What must reach the chat: its bot, agent and system messages, in order."""
        rows = self.rows(
            "SELECT text FROM messages WHERE conversation_id = :c AND sender != 'customer' ORDER BY id", c=conversation
        )
        return [row.text for row in rows]

    def outbox_states(self, conversation: str) -> dict[str, int]:
        rows = self.rows(
            "SELECT state, count(*) AS n FROM channel_outbox WHERE conversation_id = :c GROUP BY state", c=conversation
        )
        return {row.state: int(row.n) for row in rows}


def _closed_today(data_dir: Path) -> BusinessHours:
    """Make today and tomorrow (in the team's timezone) holidays in ``data_dir``'s business hours."""
    path = data_dir / "business_hours.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    hours = load_hours(path)
    today = dt.datetime.now(hours.timezone).date()
    holidays = {str(day) for day in document.get("holidays") or []}
    holidays |= {str(today), str(today + dt.timedelta(days=1))}
    document["holidays"] = sorted(holidays)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    closed = load_hours(path)
    assert not closed.is_open(dt.datetime.now(dt.timezone.utc))
    return closed


@pytest.fixture(scope="module")
def follow_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FollowUpStack]:
    """A stack of its own on a copy of data/ where the team is out today, Telegram on (a fake Bot API)."""
    models_dir = PROJECT_ROOT / "models"
    ensure_model(PROJECT_ROOT, models_dir)  # a no-op when the model is trained
    root = tmp_path_factory.mktemp("follow-up")
    data_dir = root / "data"
    shutil.copytree(PROJECT_ROOT / "data", data_dir)
    hours = _closed_today(data_dir)
    telegram = FakeTelegram()
    with serve_in_thread(telegram.app()) as telegram_port:
        env = {
            "BOT_DATA_DIR": str(data_dir),
            "BOT_TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_TELEGRAM_API_URL": base_url(f"http://127.0.0.1:{telegram_port}/"),
            "BOT_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "BOT_TELEGRAM_MODE": "webhook",
            "BOT_SLACK_BOT_TOKEN": "",
            "BOT_TELEGRAM_WEBHOOK_URL": "",
        }
        running = start_stack(root / "var", models_dir, extra_env=env)
        engine = create_db_engine(running.database_url)
        try:
            yield FollowUpStack(running, telegram, engine, hours, load_notification_texts(data_dir / "texts.yml"))
        finally:
            engine.dispose()
            code = running.stop()
            assert code == 0, f"supervisor exit {code}:\n{running.output()}"
    assert telegram.unknown == [], telegram.unknown


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


class Chat:
    """A private Telegram chat with the bot (its id is the user's id)."""

    def __init__(self, rig: FollowUpStack, session: aiohttp.ClientSession, chat_id: int) -> None:
        self.rig, self.session, self.chat_id = rig, session, chat_id
        self.conversation = f"telegram-{chat_id}"

    def sent(self) -> list[str]:
        return [m["text"] for m in self.rig.telegram.sent(self.chat_id)]

    async def say(self, text: str) -> list[str]:
        """Send a message as the customer; what the bot sent in answer (once everything is sent)."""
        before = len(self.sent())
        update = self.rig.telegram.text_update(self.chat_id, text, user_id=self.chat_id)
        status = await self.rig.telegram.deliver(self.session, self.rig.webhook, update, TG_SECRET)
        assert status == 200, status
        await self.settled()
        return self.sent()[before:]

    async def settled(self, timeout: float = 60, quiet: float = 0.5) -> None:
        """Wait until every stored message of the chat was sent to the fake (and nothing more is pending)."""
        deadline = time.monotonic() + timeout
        calm_since: float | None = None
        while True:
            pending = await asyncio.to_thread(
                self.rig.rows,
                "SELECT (SELECT count(*) FROM channel_inbox WHERE conversation_id = :c AND state IN ('pending', 'stored'))"
                " + (SELECT count(*) FROM channel_outbox WHERE conversation_id = :c AND state IN ('pending', 'sending'))"
                " AS n",
                c=self.conversation,
            )
            sent_rows = (await asyncio.to_thread(self.rig.outbox_states, self.conversation)).get("sent", 0)
            done = pending[0].n == 0 and len(self.sent()) >= sent_rows
            now = time.monotonic()
            if done:
                calm_since = calm_since or now
                if now - calm_since >= quiet:
                    return
            else:
                calm_since = None
            if now > deadline:
                raise AssertionError(f"{self.conversation} not settled:\n{self.rig.stack.logs()}")
            await asyncio.sleep(0.1)

    def assert_each_sent_once(self) -> None:
        expected = [text or "…" for text in self.rig.bot_texts(self.conversation)]
        assert self.sent() == expected
        assert self.rig.outbox_states(self.conversation) == {"sent": len(expected)}


async def _agent(rig: FollowUpStack, session: aiohttp.ClientSession, method: str, path: str, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {rig.stack.agent_token}"}
    url = f"{rig.stack.gateway_url}/api/v1/{path}"
    async with session.request(method, url, json=body if method == "POST" else None, headers=headers) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def _api(
    rig: FollowUpStack, session: aiohttp.ClientSession, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {rig.stack.api_token}"}
    async with session.request(method, f"{rig.stack.gateway_url}/api/v1/{path}", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_an_out_of_hours_handoff_answered_the_next_morning_reaches_the_telegram_customer_who_had_left(
    follow_up: FollowUpStack, session: aiohttp.ClientSession
) -> None:
    chat = Chat(follow_up, session, 730_001)
    told = await chat.say("I want to talk to a real person please")
    opens = follow_up.hours.next_open(dt.datetime.now(dt.timezone.utc))
    back = f"back {opens:%A} at {opens:%H:%M} ({opens.tzname()})"
    assert any("out of the office" in text and back in text for text in told), told
    handoffs = (await _agent(follow_up, session, "GET", "handoffs"))["handoffs"]
    [handoff] = [h for h in handoffs if h["conversation_id"] == chat.conversation]
    assert handoff["status"] == "open"

    # The customer has left: nothing more comes from the chat. The team's timers run meanwhile and,
    # the team being out, neither escalate the handoff nor close it.
    await asyncio.sleep(6)  # longer than one round of the gateway's timers
    [row] = follow_up.rows("SELECT status, escalated_at FROM handoffs WHERE id = :h", h=handoff["id"])
    assert (row.status, row.escalated_at) == ("open", None)
    sent_before = len(chat.sent())

    # The next morning an agent takes it and answers.
    claimed = await _agent(follow_up, session, "POST", f"handoffs/{handoff['id']}/claim")
    assert claimed["agent_id"] == LENA
    answer = "Good morning, this is Lena from Nimbus support. Your router's red light means a firmware update failed."
    await _agent(follow_up, session, "POST", f"handoffs/{handoff['id']}/messages", text=answer)
    await chat.settled()
    arrived = chat.sent()[sent_before:]
    assert sum(answer in text for text in arrived) == 1, arrived
    detail = await _agent(follow_up, session, "GET", f"handoffs/{handoff['id']}")
    assert [m["sender"] for m in detail["messages"]].count("customer") == 1  # the customer wrote nothing more
    chat.assert_each_sent_once()


async def test_an_order_marked_shipped_notifies_the_opted_in_customer_once(
    follow_up: FollowUpStack, session: aiohttp.ClientSession
) -> None:
    texts = follow_up.texts
    customer, _ = await asyncio.to_thread(add_customer, follow_up.engine)
    chat = Chat(follow_up, session, 730_002)
    # The customer links the chat from the company's site (a deep link), then opts in from the chat.
    status, minted = await _api(follow_up, session, "POST", "deep-links", {"customer_id": customer})
    assert status == 201, minted
    linked = await chat.say(f"/start {minted['token']}")
    assert any("now linked" in text for text in linked), linked
    assert await chat.say("/notify on") == [texts.notify_on]
    status, settings = await _api(follow_up, session, "GET", f"customers/{customer}/notifications")
    assert (status, settings["order_updates"]) == (200, True)

    number = await asyncio.to_thread(add_order, follow_up.engine, customer, "processing")
    report = {"status": "shipped", "carrier": "DHL", "tracking_number": "JJD014600003828"}
    answers = await asyncio.gather(
        *(_api(follow_up, session, "POST", f"orders/{number}/status", report) for _ in range(3))
    )
    assert [status for status, _ in answers] == [200, 200, 200], answers
    assert sorted(body["changed"] for _, body in answers) == [False, False, True]
    status, again = await _api(follow_up, session, "POST", f"orders/{number}/status", report)
    assert (status, again["changed"], again["notification"]["outcome"]) == (200, False, "already_recorded")

    await chat.settled()
    expected = texts.order_shipped.format(order=number, carrier="DHL", tracking="JJD014600003828")
    await asyncio.sleep(2)  # anything sent twice would have arrived by now
    assert chat.sent().count(expected) == 1, chat.sent()
    chat.assert_each_sent_once()
    [row] = follow_up.rows("SELECT state, event FROM customer_notifications WHERE order_number = :n", n=number)
    assert (row.state, row.event) == ("sent", "shipped")

    # A customer who never opted in gets nothing.
    other, _ = await asyncio.to_thread(add_customer, follow_up.engine)
    unnoticed = await asyncio.to_thread(add_order, follow_up.engine, other, "processing")
    status, body = await _api(follow_up, session, "POST", f"orders/{unnoticed}/status", report)
    assert (status, body["notification"]["outcome"]) == (200, "not_opted_in")
