"""Telegram customers on the real gateway, python-telegram-bot against a fake Bot API, a fake Rasa."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.telegram import WEBHOOK_PATH
from bot.db.migrate import upgrade
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.fakes.rasa import FakeRasa, start_fake_rasa
from tests.fakes.telegram import TOKEN, FakeTelegram, base_url, start_fake_telegram
from tests.helpers import queue_counts, queues_settled
from tests.shared_services import RedisForRun

WEBHOOK_SECRET = "telegram-webhook-secret_for-tests"
CHAT = 4242


@dataclass
class TelegramRig:
    """The gateway (Telegram on), the fake Bot API and the fake Rasa."""

    client: TestClient
    telegram: FakeTelegram
    rasa: FakeRasa
    settings: Settings

    async def deliver(self, update: dict[str, Any], secret: str | None = WEBHOOK_SECRET) -> int:
        """POST an update to the gateway's webhook as Telegram does; the HTTP status."""
        return await self.telegram.deliver(self.client.session, str(self.client.make_url(WEBHOOK_PATH)), update, secret)

    async def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(inbox, outbox) rows per state."""
        return await queue_counts(self.client.server.app)

    async def settled(self, timeout: float = 30.0) -> tuple[dict[str, int], dict[str, int]]:
        """Wait until nothing is left to process or send; the final counts."""
        return await queues_settled(self.client.server.app, timeout)


async def poll_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (state in another process or thread); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def start_rig(
    settings: Settings,
    prepare: Callable[[Settings, FakeTelegram], Awaitable[None]] | None = None,
    telegram_overrides: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[TelegramRig]:
    """Fakes, a migrated database (``prepare`` may fill it), then the gateway."""
    rasa, rasa_server = await start_fake_rasa(settings.dialogue.token, settings.dialogue.channel_secret)
    telegram, telegram_server = await start_fake_telegram()
    telegram_settings: dict[str, Any] = {
        "bot_token": TOKEN,
        "api_url": base_url(str(telegram_server.make_url(""))),
        "webhook_secret": WEBHOOK_SECRET,
        **(telegram_overrides or {}),
    }
    settings = settings.with_overrides(
        dialogue={"rasa_port": rasa_server.port}, telegram=telegram_settings, **overrides
    )
    upgrade(settings.database_url)
    if prepare is not None:
        await prepare(settings, telegram)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield TelegramRig(client, telegram, rasa, settings)
    finally:
        await client.close()
        await telegram_server.close()
        await rasa_server.close()
    assert telegram.unknown == [], f"unexpected Bot API calls: {telegram.unknown}"


@pytest.fixture
async def rig(settings: Settings, database_url: str) -> AsyncIterator[TelegramRig]:
    """On SQLite and on PostgreSQL."""
    async for running in start_rig(settings, database_url=database_url):
        yield running


@pytest.fixture
async def rig_lite(settings: Settings) -> AsyncIterator[TelegramRig]:
    """On SQLite only (for the slow pacing tests)."""
    async for running in start_rig(settings):
        yield running


async def test_a_message_is_answered_once_even_when_redelivered(rig: TelegramRig) -> None:
    update = rig.telegram.text_update(CHAT, "hello there")
    assert await rig.deliver(update) == 200
    assert await rig.deliver(update) == 200  # Telegram redelivers when it missed our answer
    sent = await rig.telegram.wait_sent(CHAT, 1)
    assert sent[0]["text"] == "you said: hello there"
    assert await rig.settled() == ({"done": 1}, {"sent": 1})
    await asyncio.sleep(0.5)
    assert len(rig.telegram.sent(CHAT)) == 1
    assert len(rig.rasa.received) == 1
    assert rig.rasa.received[0]["metadata"]["channel"] == "telegram"


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x"])
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(
    rig_lite: TelegramRig, secret: str | None
) -> None:
    update = rig_lite.telegram.text_update(CHAT, "let me in")
    assert await rig_lite.deliver(update, secret=secret) == 403
    await asyncio.sleep(0.3)
    assert await rig_lite.counts() == ({}, {})
    assert rig_lite.rasa.received == [] and rig_lite.telegram.sent() == []


async def test_malformed_updates_get_a_clear_error(rig_lite: TelegramRig) -> None:
    url = str(rig_lite.client.make_url(WEBHOOK_PATH))
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET, "Content-Type": "application/json"}
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        async with rig_lite.client.session.post(url, data=body, headers=headers) as response:
            assert response.status == 400
    # Updates the bot does not handle (a group message, an edit) are acknowledged and dropped.
    group = rig_lite.telegram.text_update(-100123, "hi all", chat_type="group")
    edited = {"update_id": 999001, "edited_message": group["message"]}
    assert await rig_lite.deliver(group) == 200 and await rig_lite.deliver(edited) == 200
    await asyncio.sleep(0.3)
    assert await rig_lite.counts() == ({}, {})


async def test_three_429s_in_a_row_send_the_reply_once_after_the_waits(rig: TelegramRig) -> None:
    rig.telegram.fail_next("sendMessage", "429", count=3, retry_after=1)
    assert await rig.deliver(rig.telegram.text_update(CHAT, "are you there?")) == 200
    await rig.telegram.wait_sent(CHAT, 1, timeout=20)
    attempts = [call for call in rig.telegram.calls if call.method == "sendMessage"]
    assert [call.outcome for call in attempts] == ["429", "429", "429", "ok"]
    gaps = [later.at - earlier.at for earlier, later in pairwise(attempts)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # retry_after honoured each time
    assert await rig.settled() == ({"done": 1}, {"sent": 1})
    assert len(rig.telegram.sent(CHAT)) == 1


async def test_server_errors_are_retried_with_backoff(rig_lite: TelegramRig) -> None:
    rig_lite.telegram.fail_next("sendMessage", "5xx", count=3)
    assert await rig_lite.deliver(rig_lite.telegram.text_update(CHAT, "hello?")) == 200
    await rig_lite.telegram.wait_sent(CHAT, 1, timeout=20)
    attempts = [call for call in rig_lite.telegram.calls if call.method == "sendMessage"]
    assert [call.outcome for call in attempts] == ["5xx", "5xx", "5xx", "ok"]
    waits = [b.at - a.at for a, b in pairwise(attempts)]
    # Exponential backoff: 0.5 s, 1 s, 2 s (±20 % jitter; the chat's 1/s pacing may stretch the
    # first two to about a second), so the third wait is clearly the longest.
    assert min(waits) >= 0.35, waits
    assert waits[2] > waits[0] + 0.3, waits
    assert len(rig_lite.telegram.sent(CHAT)) == 1


async def test_a_burst_of_20_replies_to_one_chat_is_paced(rig_lite: TelegramRig) -> None:
    from bot.gateway.keys import CONVERSATIONS

    assert await rig_lite.deliver(rig_lite.telegram.text_update(CHAT, "start")) == 200
    await rig_lite.telegram.wait_sent(CHAT, 1)
    service = rig_lite.client.server.app[CONVERSATIONS]
    for number in range(20):
        await service.system_message(f"telegram-{CHAT}", f"notice {number}")
    sent = await rig_lite.telegram.wait_sent(CHAT, 21, timeout=40)
    assert [m["text"] for m in sent[1:]] == [f"notice {n}" for n in range(20)]  # in order
    times = [c.at for c in rig_lite.telegram.calls if c.method == "sendMessage" and c.outcome == "ok"]
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 0.95, gaps  # at most one message a second in a chat
    # ...and not stalled: paced at about 1/s (the bound leaves room for a loaded CI machine).
    assert statistics.mean(gaps) < 1.5, gaps


async def test_many_chats_share_the_30_per_second_limit(rig_lite: TelegramRig) -> None:
    from bot.gateway.keys import CONVERSATIONS, STORE

    app = rig_lite.client.server.app
    chats = list(range(1000, 1045))
    for chat in chats:
        await app[STORE].ensure(f"telegram-{chat}", "telegram", None, {"platform": "telegram", "chat_id": chat})
    for chat in chats:
        await app[CONVERSATIONS].system_message(f"telegram-{chat}", "service notice")
    for chat in chats:
        await rig_lite.telegram.wait_sent(chat, 1, timeout=20)
    times = sorted(c.at for c in rig_lite.telegram.calls if c.method == "sendMessage")
    assert len(times) == 45
    for index in range(len(times) - 30):
        assert times[index + 30] - times[index] >= 0.95  # never 31 sends within one second
    assert times[-1] - times[0] >= 44 / 30 - 0.1


async def test_buttons_are_an_inline_keyboard_and_a_press_sends_the_payload(rig: TelegramRig) -> None:
    assert await rig.deliver(rig.telegram.text_update(CHAT, "hi")) == 200
    greeting = (await rig.telegram.wait_sent(CHAT, 1))[0]
    keyboard = greeting["reply_markup"]["inline_keyboard"]
    assert [[button["text"] for button in row] for row in keyboard] == [["Track my order"]]
    data = keyboard[0][0]["callback_data"]
    assert len(data.encode()) <= 64
    press = rig.telegram.callback_update(CHAT, data, message_id=1)
    assert await rig.deliver(press) == 200
    await rig.telegram.wait_sent(CHAT, 2)
    assert rig.rasa.received[-1]["message"] == "/order_status"  # the payload, not the title
    assert rig.telegram.called("answerCallbackQuery")
    # A forged or stale press (another message's button, garbage) is answered politely.
    for forged in ("b:999999:0", "b:1:7", "garbage", ""):
        assert await rig.deliver(rig.telegram.callback_update(CHAT, forged, message_id=1)) == 200
    sent = await rig.telegram.wait_sent(CHAT, 6, timeout=20)
    assert all("older message" in m["text"] for m in sent[2:])
    assert len(rig.rasa.received) == 2


async def test_start_greets_and_other_content_gets_a_polite_answer(rig_lite: TelegramRig) -> None:
    assert await rig_lite.deliver(rig_lite.telegram.text_update(CHAT, "/start")) == 200
    assert (await rig_lite.telegram.wait_sent(CHAT, 1))[0]["text"] == "Hi! How can I help?"
    assert rig_lite.rasa.received[0]["message"] == "/greet"
    assert await rig_lite.deliver(rig_lite.telegram.other_update(CHAT, "sticker")) == 200
    assert "only read text" in (await rig_lite.telegram.wait_sent(CHAT, 2))[1]["text"]
    too_long = "x" * (rig_lite.settings.limits.max_message_chars + 1)
    assert await rig_lite.deliver(rig_lite.telegram.text_update(CHAT, too_long)) == 200
    assert "too long" in (await rig_lite.telegram.wait_sent(CHAT, 3))[2]["text"]
    assert len(rig_lite.rasa.received) == 1


async def test_start_with_a_deep_link_links_the_account_once(rig: TelegramRig) -> None:
    from bot.db.seed import seed_database
    from bot.gateway.keys import ENGINE
    from bot.identity.deeplinks import DeepLinks

    engine = rig.client.server.app[ENGINE]
    seed_database(engine, load_demo())
    links = DeepLinks(engine, rig.settings.identity.secret)
    minted = links.mint("C1001")
    assert len(minted.token) <= 64
    start = rig.telegram.text_update(CHAT, f"/start {minted.token}", user_id=777)
    assert await rig.deliver(start) == 200
    sent = await rig.telegram.wait_sent(CHAT, 2)
    assert "now linked" in sent[0]["text"] and sent[1]["text"] == "Hi! How can I help?"
    vouched = rig.rasa.vouched(rig.settings.dialogue.turn_secret, 0)
    assert vouched is not None and (vouched.customer_id, vouched.verified_by) == ("C1001", "link")
    # The same link from another Telegram account does nothing.
    replay = rig.telegram.text_update(5151, f"/start {minted.token}", user_id=888)
    assert await rig.deliver(replay) == 200
    assert "expired or was already used" in (await rig.telegram.wait_sent(5151, 1))[0]["text"]
    assert len(rig.rasa.received) == 1


def load_demo() -> Any:
    from bot.db.seed import load_demo_data
    from bot.settings import PROJECT_ROOT

    return load_demo_data(PROJECT_ROOT / "data")


async def test_a_turn_stored_before_a_crash_is_finished_without_asking_rasa_twice(
    settings: Settings, database_url: str
) -> None:
    """A worker died after the customer's message was stored and Rasa answered: the replies come from the tracker."""
    from bot.channels.inbox import Inbox
    from bot.conversations.store import ConversationStore, InboxMark
    from bot.db.engine import create_db_engine
    from bot.db.models import Sender
    from bot.dialogue.rasa_client import RasaClient

    conversation = f"telegram-{CHAT}"

    async def crashed_worker(prepared: Settings, telegram: FakeTelegram) -> None:
        """What the dead replica did before SIGKILL: event stored, message stored, Rasa asked."""
        update = telegram.text_update(CHAT, "two")
        engine = create_db_engine(prepared.database_url)
        try:
            dead = Inbox(engine, "a-dead-replica", lease_s=-1)  # its lease has run out
            await dead.accept("telegram", str(update["update_id"]), conversation, update)
            event = (await dead.claim(["telegram"]))[0]
            store = ConversationStore(engine)
            await store.ensure(conversation, "telegram", None, {"platform": "telegram", "chat_id": CHAT})
            turn = f"tg:{update['update_id']}"
            await store.append(
                conversation, Sender.CUSTOMER, "two", client_id=turn, inbox=InboxMark(event.id, "stored")
            )
            async with __import__("aiohttp").ClientSession() as session:
                rasa = RasaClient(
                    session=session,
                    base_url=prepared.dialogue.rasa_url,
                    token=prepared.dialogue.token,
                    channel_secret=prepared.dialogue.channel_secret,
                    timeout_s=5,
                )
                assert len(await rasa.send(conversation, "two", {"turn": turn})) == 2
        finally:
            engine.dispose()

    async for rig in start_rig(settings, database_url=database_url, prepare=crashed_worker):
        assert await rig.deliver(rig.telegram.text_update(CHAT, "after")) == 200
        sent = await rig.telegram.wait_sent(CHAT, 3, timeout=20)
        assert [m["text"] for m in sent] == ["first", "second", "you said: after"]  # in order
        assert [r["message"] for r in rig.rasa.received] == ["two", "after"]  # "two" was not sent again
        assert await rig.settled() == ({"done": 2}, {"sent": 3})


async def test_long_polling_stores_then_confirms_updates(settings: Settings) -> None:
    async for rig in start_rig(settings, telegram_overrides={"mode": "polling", "webhook_secret": ""}):
        first = rig.telegram.text_update(CHAT, "polled one")
        second = rig.telegram.text_update(CHAT, "polled two")
        rig.telegram.queue_update(first)
        rig.telegram.queue_update(second)
        sent = await rig.telegram.wait_sent(CHAT, 2, timeout=20)
        assert [m["text"] for m in sent] == ["you said: polled one", "you said: polled two"]
        assert rig.telegram.called("deleteWebhook")
        await rig.telegram.wait_sent(CHAT, 2)  # and the poll after them confirmed both:
        confirmed = partial(lambda fake: fake.pending_updates() == [], rig.telegram)
        await poll_until(confirmed, "updates confirmed by the next offset")
        # The webhook route does not exist in polling mode.
        assert await rig.deliver(rig.telegram.text_update(CHAT, "x")) in (404, 405)


async def test_two_replicas_poll_one_at_a_time_and_the_other_takes_over(
    settings: Settings, redis_service: RedisForRun
) -> None:
    """In a cluster only the holder of the polling lease calls getUpdates; stopping it hands polling over."""
    cluster = {"redis_url": redis_service.url, "redis_prefix": redis_service.prefix}
    overrides = {"mode": "polling", "webhook_secret": ""}
    async for rig in start_rig(
        settings, telegram_overrides=overrides, services=cluster, gateway={"replica_id": "gw-a"}
    ):
        other = TestClient(
            TestServer(
                create_app(rig.settings.with_overrides(gateway={"replica_id": "gw-b"})), host="127.0.0.1", port=0
            )
        )
        await other.start_server()
        try:
            rig.telegram.queue_update(rig.telegram.text_update(CHAT, "one"))
            await rig.telegram.wait_sent(CHAT, 1, timeout=20)
            engine = sa.create_engine(rig.settings.database_url)
            try:
                with engine.connect() as connection:
                    owners = (
                        connection.execute(sa.text("SELECT owner FROM replica_leases WHERE name = 'telegram_polling'"))
                        .scalars()
                        .all()
                    )
            finally:
                engine.dispose()
            assert owners == ["gw-a"]  # gw-a started first; gw-b waits
            await rig.client.close()  # gw-a stops and gives the lease up
            rig.telegram.queue_update(rig.telegram.text_update(CHAT, "later"))
            sent = await rig.telegram.wait_sent(CHAT, 2, timeout=30)
            assert [m["text"] for m in sent] == ["you said: one", "you said: later"]  # each answered once
        finally:
            await other.close()


async def test_the_sender_maps_telegram_errors(settings: Settings) -> None:
    from bot.channels.outbox import Delivery, PermanentFailure, RateLimited, TemporaryFailure
    from bot.channels.telegram import TelegramSender, make_bot
    from bot.core.messages import StoredMessage

    telegram, server = await start_fake_telegram()
    tuned = replace(settings.telegram, bot_token=TOKEN, api_url=base_url(str(server.make_url(""))))
    bot = make_bot(tuned, read_timeout=0.5)
    sender = TelegramSender(bot)
    delivery = Delivery(1, "telegram", "telegram:1", "telegram-1", 1, {"platform": "telegram", "chat_id": 1}, 1)
    message = StoredMessage(1, "telegram-1", "bot", "hello", (), None, __import__("datetime").datetime(2026, 1, 1))
    try:
        telegram.fail_next("sendMessage", "429", retry_after=7)
        with pytest.raises(RateLimited) as limited:
            await sender.deliver(delivery, message)
        assert limited.value.retry_after == 7
        telegram.fail_next("sendMessage", "5xx")
        with pytest.raises(TemporaryFailure):
            await sender.deliver(delivery, message)
        telegram.fail_next("sendMessage", "timeout", delay=2.0)
        with pytest.raises(TemporaryFailure, match="TimedOut"):
            await sender.deliver(delivery, message)
        assert await sender.deliver(delivery, message)
        assert len(telegram.sent(1)) == 1
    finally:
        await bot.shutdown()
        await server.close()
    del PermanentFailure


async def test_the_host_site_mints_deep_links_over_the_api(rig_lite: TelegramRig) -> None:
    from bot.db.seed import seed_database
    from bot.gateway.keys import ENGINE

    seed_database(rig_lite.client.server.app[ENGINE], load_demo())
    auth = {"Authorization": "Bearer api-token-for-tests"}
    response = await rig_lite.client.post("/api/v1/deep-links", json={"customer_id": "C1001"}, headers=auth)
    assert response.status == 201
    minted = await response.json()
    assert minted["telegram_url"] == f"https://t.me/nimbus_support_bot?start={minted['token']}"
    assert len(minted["token"]) <= 64
    unknown = await rig_lite.client.post("/api/v1/deep-links", json={"customer_id": "C9999"}, headers=auth)
    assert unknown.status == 404 and (await unknown.json())["error"]["code"] == "unknown_customer"
    unauthorized = await rig_lite.client.post("/api/v1/deep-links", json={"customer_id": "C1001"})
    assert unauthorized.status == 401
    # The minted link works once, from Telegram.
    start = rig_lite.telegram.text_update(CHAT, f"/start {minted['token']}", user_id=31337)
    assert await rig_lite.deliver(start) == 200
    assert "now linked" in (await rig_lite.telegram.wait_sent(CHAT, 1))[0]["text"]


def test_set_webhook_command(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main
    from tests.stack import serve_in_thread

    fake = FakeTelegram()
    with serve_in_thread(fake.app()) as port:
        for name, value in {
            "BOT_VAR_DIR": str(tmp_path),
            "BOT_TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_TELEGRAM_API_URL": base_url(f"http://127.0.0.1:{port}"),
            "BOT_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["telegram", "set-webhook", "https://bot.example.com/telegram/webhook"]) == 0
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://bot.example.com/telegram/webhook"
        assert fake.webhook["secret_token"] == WEBHOOK_SECRET
        assert fake.webhook["allowed_updates"] == ["message", "callback_query"]
        assert "webhook set for @nimbus_support_bot" in capsys.readouterr().out
        assert main(["telegram", "set-webhook", "http://insecure.example.com/hook"]) == 2
        assert "https://" in capsys.readouterr().err
        assert main(["telegram", "webhook-info"]) == 0
        assert "https://bot.example.com/telegram/webhook" in capsys.readouterr().out
        assert main(["telegram", "delete-webhook"]) == 0
        assert fake.webhook is None
        assert TOKEN not in capsys.readouterr().out
    assert fake.unknown == []


async def test_updates_arriving_out_of_order_are_each_answered_once(rig_lite: TelegramRig) -> None:
    """Telegram may redeliver an older update after a newer one: nothing is dropped, nothing doubled."""
    first, second, third = (rig_lite.telegram.text_update(CHAT, text) for text in ("alpha", "beta", "gamma"))
    for update in (third, first, second, first, third):
        assert await rig_lite.deliver(update) == 200
    sent = await rig_lite.telegram.wait_sent(CHAT, 3)
    assert [m["text"] for m in sent] == ["you said: gamma", "you said: alpha", "you said: beta"]  # as they arrived
    assert await rig_lite.settled() == ({"done": 3}, {"sent": 3})
    assert len(rig_lite.rasa.received) == 3


async def test_a_store_failure_logs_no_part_of_the_update(rig: TelegramRig, caplog: pytest.LogCaptureFixture) -> None:
    """The database refusing an update: 503 (Telegram delivers it again), and the log holds none of it."""
    engine = sa.create_engine(rig.settings.database_url)
    private = "my email is lena.private@example.com, card 4111 1111 1111 1111"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE channel_inbox RENAME TO channel_inbox_away"))
        assert await rig.deliver(rig.telegram.text_update(CHAT, private)) == 503
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE channel_inbox_away RENAME TO channel_inbox"))
        engine.dispose()
    assert "telegram.store_failed" in caplog.text
    assert "lena.private" not in caplog.text and "4111" not in caplog.text
    assert await rig.deliver(rig.telegram.text_update(CHAT, "again")) == 200  # the database is back
    assert [m["text"] for m in await rig.telegram.wait_sent(CHAT, 1)] == ["you said: again"]
