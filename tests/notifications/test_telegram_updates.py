"""On the real gateway with Telegram on (a fake Bot API, a fake Rasa): /notify, then an order update reaches the chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from bot.db.seed import seed_database
from bot.gateway.keys import ENGINE
from bot.identity.deeplinks import DeepLinks
from bot.notifications.texts import load_notification_texts
from bot.settings import PROJECT_ROOT, Settings
from tests.channels.test_telegram import TelegramRig, load_demo, start_rig
from tests.orders import add_order

TEXTS = load_notification_texts(PROJECT_ROOT / "data" / "texts.yml")
CHAT = 4343  # a private chat: its id is the user's id
AUTH = {"Authorization": "Bearer api-token-for-tests"}


@pytest.fixture
async def rig(settings: Settings, database_url: str) -> AsyncIterator[TelegramRig]:
    """On SQLite and on PostgreSQL."""
    async for running in start_rig(settings, database_url=database_url):
        yield running


async def test_notify_then_a_shipped_order_reaches_the_linked_chat_once(rig: TelegramRig) -> None:
    engine = rig.client.server.app[ENGINE]
    seed_database(engine, load_demo())
    say = rig.telegram.text_update
    assert await rig.deliver(say(CHAT, "/notify on", user_id=CHAT)) == 200
    assert (await rig.telegram.wait_sent(CHAT, 1))[0]["text"] == TEXTS.notify_not_linked  # not linked yet

    token = DeepLinks(engine, rig.settings.identity.secret).mint("C1001").token
    assert await rig.deliver(say(CHAT, f"/start {token}", user_id=CHAT)) == 200
    await rig.telegram.wait_sent(CHAT, 3)  # linked, and the greeting
    assert await rig.deliver(say(CHAT, "/notify on", user_id=CHAT)) == 200
    assert (await rig.telegram.wait_sent(CHAT, 4))[3]["text"] == TEXTS.notify_on
    assert [m["message"] for m in rig.rasa.received] == ["/greet"]  # the command never reached the dialogue

    number = add_order(engine, "C1001", "processing")
    body = {"status": "shipped", "carrier": "DPD", "tracking_number": "0150 1234"}
    for _ in range(2):  # the company's system reports it twice
        resp = await rig.client.post(f"/api/v1/orders/{number}/status", json=body, headers=AUTH)
        assert resp.status == 200, await resp.text()
    sent = await rig.telegram.wait_sent(CHAT, 5)
    expected = TEXTS.order_shipped.format(order=number, carrier="DPD", tracking="0150 1234")
    assert sent[4]["text"] == expected
    await rig.settled()
    await asyncio.sleep(0.5)
    assert [m["text"] for m in rig.telegram.sent(CHAT)].count(expected) == 1
    with engine.connect() as connection:
        states = connection.execute(
            sa.text("SELECT state FROM channel_outbox WHERE conversation_id = :c"), {"c": f"telegram-{CHAT}"}
        ).scalars()
        assert set(states) == {"sent"}

    assert await rig.deliver(say(CHAT, "/notify off", user_id=CHAT)) == 200
    assert (await rig.telegram.wait_sent(CHAT, 6))[5]["text"] == TEXTS.notify_off
    resp = await rig.client.post(f"/api/v1/orders/{number}/status", json={"status": "delivered"}, headers=AUTH)
    assert (await resp.json())["notification"]["outcome"] == "not_opted_in"
