"""The Telegram and Slack fakes, driven by the real python-telegram-bot and slack_sdk clients, and the network guard."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.conftest import NetworkGuard
from tests.fakes import slack as slack_fake
from tests.fakes.slack import BOT_USER_ID, CHANNEL_ID, FakeSlack, start_fake_slack
from tests.fakes.telegram import BOT_USER, TOKEN, FakeTelegram, base_url, start_fake_telegram
from tests.helpers import interface_addresses

CHAT = 4242


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake, server = await start_fake_telegram()
    try:
        yield fake, base_url(str(server.make_url("/")))
    finally:
        await server.close()
    assert fake.unknown == [], f"unexpected Telegram API calls: {fake.unknown}"


@pytest.fixture
async def slack_client() -> AsyncIterator[tuple[FakeSlack, AsyncWebClient]]:
    fake, server = await start_fake_slack()
    client = AsyncWebClient(token="xoxb-test", base_url=str(server.make_url("/api/")), retry_handlers=[], timeout=5)
    try:
        yield fake, client
    finally:
        await server.close()
    assert fake.unknown == [], f"unexpected Slack API calls: {fake.unknown}"


def seconds(value: Any) -> int:
    """``RetryAfter.retry_after`` as whole seconds (an int, or a timedelta with ``PTB_TIMEDELTA=1``)."""
    return int(getattr(value, "total_seconds", lambda: value)())


# -- Telegram -------------------------------------------------------------------------------------------


async def test_telegram_send_message_with_keyboard_is_recorded_and_decoded(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    async with Bot(TOKEN, base_url=url) as bot:
        assert bot.username == BOT_USER["username"]  # initialize() called getMe
        message = await bot.send_message(CHAT, "Hello there", reply_markup=keyboard, disable_notification=True)
        second = await bot.send_message(CHAT + 1, "Other chat")
    assert message.text == "Hello there"
    assert message.chat.id == CHAT
    assert message.from_user is not None and message.from_user.id == BOT_USER["id"]
    assert message.reply_markup == keyboard
    assert second.message_id > message.message_id
    [sent] = fake.sent(CHAT)
    assert sent["chat_id"] == CHAT
    assert sent["text"] == "Hello there"
    assert sent["disable_notification"] is True
    assert sent["reply_markup"]["inline_keyboard"] == [[{"text": "Yes", "callback_data": "yes"}]]
    assert [m["text"] for m in fake.sent()] == ["Hello there", "Other chat"]
    assert [c.method for c in fake.calls] == ["getMe", "sendMessage", "sendMessage"]
    assert all(c.outcome == "ok" for c in fake.calls)


async def test_telegram_429_raises_retry_after(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    fake.fail_next("sendMessage", "429", retry_after=7)
    async with Bot(TOKEN, base_url=url) as bot:
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(CHAT, "too fast")
        await bot.send_message(CHAT, "later")  # only the next call failed
    assert seconds(raised.value.retry_after) == 7
    assert [m["text"] for m in fake.sent(CHAT)] == ["later"]
    assert [c.outcome for c in fake.calls if c.method == "sendMessage"] == ["429", "ok"]


async def test_telegram_5xx_raises_network_error(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    fake.fail_next("sendMessage", "5xx", count=2)
    async with Bot(TOKEN, base_url=url) as bot:
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(CHAT, "lost")
        await bot.send_message(CHAT, "delivered")
    assert [m["text"] for m in fake.sent(CHAT)] == ["delivered"]


async def test_telegram_timeout_raises_timed_out_and_delivers_nothing(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    fake.fail_next("sendMessage", "timeout", delay=2.0)
    async with Bot(TOKEN, base_url=url, request=HTTPXRequest(read_timeout=0.5)) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow")
        assert time.monotonic() - started < 1.9
    assert fake.sent() == []
    assert [c.outcome for c in fake.calls if c.method == "sendMessage"] == ["timeout"]


async def test_telegram_wrong_token_is_unauthorized(telegram: tuple[FakeTelegram, str]) -> None:
    from telegram.error import InvalidToken

    _fake, url = telegram
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=url):
            pass


async def test_telegram_long_polling_honours_offset_and_limit(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    first = fake.text_update(CHAT, "/start now")
    second = fake.callback_update(CHAT, "yes", message_id=1)
    third = fake.other_update(CHAT, "sticker")
    for update in (first, second, third):
        fake.queue_update(update)
    async with Bot(TOKEN, base_url=url) as bot:
        got = await bot.get_updates(timeout=1, limit=2)
        assert [u.update_id for u in got] == [first["update_id"], second["update_id"]]
        assert got[0].message is not None and got[0].message.text == "/start now"
        assert got[0].message.entities[0].type == "bot_command"
        assert got[0].message.entities[0].length == len("/start")
        assert got[1].callback_query is not None and got[1].callback_query.data == "yes"
        got = await bot.get_updates(offset=second["update_id"] + 1, timeout=1)
        assert [u.update_id for u in got] == [third["update_id"]]
        assert got[0].message is not None and got[0].message.sticker is not None and got[0].message.text is None
        # confirming the last one leaves nothing; a long poll waits and is answered by a later queue_update
        later = fake.text_update(CHAT, "are you there?")
        asyncio.get_running_loop().call_later(0.3, fake.queue_update, later)
        started = time.monotonic()
        got = await bot.get_updates(offset=third["update_id"] + 1, timeout=3)
        assert 0.2 < time.monotonic() - started < 2.5
        assert [u.update_id for u in got] == [later["update_id"]]
        assert fake.pending_updates() == [later]
        started = time.monotonic()
        assert await bot.get_updates(offset=later["update_id"] + 1, timeout=0.5) == ()
        assert time.monotonic() - started >= 0.4


async def test_telegram_webhook_set_info_delete_and_deliver(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    received: list[tuple[dict[str, Any], str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/telegram/webhook", hook)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        hook_url = str(server.make_url("/telegram/webhook"))
        async with Bot(TOKEN, base_url=url) as bot:
            assert await bot.set_webhook(hook_url, secret_token="s3cret", allowed_updates=["message", "callback_query"])
            assert fake.webhook is not None
            assert fake.webhook["url"] == hook_url
            assert fake.webhook["secret_token"] == "s3cret"
            assert fake.webhook["allowed_updates"] == ["message", "callback_query"]
            info = await bot.get_webhook_info()
            assert info.url == hook_url
            update = fake.text_update(CHAT, "hi", chat_type="private")
            async with aiohttp.ClientSession() as session:
                assert await fake.deliver(session, hook_url, update, "s3cret") == 200
                assert await fake.deliver(session, hook_url, update, None) == 200
            assert received == [(update, "s3cret"), (update, None)]
            assert await bot.delete_webhook()
            assert fake.webhook is None
            assert (await bot.get_webhook_info()).url == ""
    finally:
        await server.close()


async def test_telegram_edits_and_callback_answers(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    async with Bot(TOKEN, base_url=url) as bot:
        message = await bot.send_message(CHAT, "Solved?", reply_markup=keyboard)
        update = fake.callback_update(CHAT, "yes", message_id=message.message_id)
        assert update["callback_query"]["message"]["text"] == "Solved?"
        assert await bot.answer_callback_query(update["callback_query"]["id"], text="Thanks")
        edited = await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
        assert not isinstance(edited, bool) and edited.reply_markup is None and edited.text == "Solved?"
        edited = await bot.edit_message_text("Solved ✔", chat_id=CHAT, message_id=message.message_id)
        assert not isinstance(edited, bool) and edited.text == "Solved ✔"
    assert fake.called("answerCallbackQuery")[0]["callback_query_id"] == update["callback_query"]["id"]


async def test_telegram_wait_sent_reports_what_was_sent(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    async with Bot(TOKEN, base_url=url) as bot:
        await bot.send_message(CHAT, "one")
        assert [m["text"] for m in await fake.wait_sent(CHAT, 1, timeout=1)] == ["one"]
        with pytest.raises(AssertionError, match="one"):
            await fake.wait_sent(CHAT, 2, timeout=0.1)


# -- Slack ----------------------------------------------------------------------------------------------


async def test_slack_429_raises_with_retry_after(slack_client: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack_client
    fake.fail_next("chat.postMessage", "429", retry_after=3)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="D0CUST1", text="hi")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] in ("3", ["3"])
    assert raised.value.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="D0CUST1", text="again")
    assert [p["text"] for p in fake.posted()] == ["again"]
    assert [(c.outcome, c.at > 0) for c in fake.calls] == [("429", True), ("ok", True)]


async def test_slack_5xx_and_timeout(slack_client: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack_client
    fake.fail_next("chat.postMessage", "5xx")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="D0CUST1", text="hi")
    assert raised.value.response.status_code == 503
    fake.fail_next("chat.postMessage", "timeout", delay=1.0)
    client.timeout = 0.3
    with pytest.raises(asyncio.TimeoutError):
        await client.chat_postMessage(channel="D0CUST1", text="slow")
    assert fake.posted() == []
    assert [c.outcome for c in fake.calls] == ["5xx", "timeout"]


async def test_slack_posted_filters_and_echoes_id_channels(slack_client: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack_client
    dm = await client.chat_postMessage(channel="D0CUST1", text="to the customer")
    agents = await client.chat_postMessage(channel="#support-agents", text="to the agents")
    group = await client.chat_postMessage(channel="G0PRIVATE", text="private channel", thread_ts="1.2")
    assert (dm["channel"], agents["channel"], group["channel"]) == ("D0CUST1", CHANNEL_ID, "G0PRIVATE")
    assert [p["text"] for p in fake.posted("D0CUST1")] == ["to the customer"]
    assert [p["text"] for p in fake.posted("#support-agents")] == ["to the agents"]
    assert [p["text"] for p in fake.posted(CHANNEL_ID)] == ["to the agents"]
    assert len(fake.posted()) == 3
    assert [p["text"] for p in await fake.wait_posted("G0PRIVATE", 1, timeout=1)] == ["private channel"]
    with pytest.raises(AssertionError, match="to the customer"):
        await fake.wait_posted("D0CUST1", 2, timeout=0.1)


async def test_slack_delete_removes_only_the_bots_own_live_messages(
    slack_client: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack_client
    root = await client.chat_postMessage(channel="#support-agents", text="root")
    reply = await client.chat_postMessage(channel="#support-agents", text="in thread", thread_ts=root["ts"])
    assert set(fake.live) == {(CHANNEL_ID, root["ts"]), (CHANNEL_ID, reply["ts"])}
    await client.chat_delete(channel=CHANNEL_ID, ts=reply["ts"])
    await client.chat_update(channel=CHANNEL_ID, ts=root["ts"], text="erased", blocks=[])
    assert fake.live == {(CHANNEL_ID, root["ts"]): "erased"}
    for call in (
        client.chat_delete(channel=CHANNEL_ID, ts=reply["ts"]),  # already gone
        client.chat_delete(channel=CHANNEL_ID, ts="1699999999.000001"),  # an agent's message: not the bot's
        client.chat_update(channel=CHANNEL_ID, ts=reply["ts"], text="too late"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await call
        assert raised.value.response["error"] == "message_not_found"
    assert [c.outcome for c in fake.calls if c.method == "chat.delete"] == ["ok", "error", "error"]
    assert fake.unknown == []


async def test_slack_customer_events_are_signed_and_well_formed() -> None:
    secret = "signing-secret"
    seen: list[tuple[str, dict[str, str]]] = []

    async def endpoint(request: web.Request) -> web.Response:
        seen.append((await request.text(), dict(request.headers)))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        url = str(server.make_url("/slack/events"))
        dm = slack_fake.dm_event("U0CUST", "hello", event_id="Ev1", ts="1700000100.000001")
        mention = slack_fake.mention_event("U0CUST", "help", event_id="Ev2", ts="1700000100.000002", thread_ts="1.1")
        public = slack_fake.channel_message_event("U0CUST", "more", event_id="Ev3", ts="1700000100.000003")
        press = slack_fake.customer_button_press(
            "U0CUST", channel="D0CUSTDM", message_ts="1.5", action_id="csat_5", value="5", trigger_id="t.1"
        )
        async with aiohttp.ClientSession() as session:
            for body in (dm, mention, public):
                assert await slack_fake.deliver(session, url, body, secret) == 200
            assert await slack_fake.deliver(session, url, press, secret, retry_num=1) == 200
    finally:
        await server.close()
    events = [json.loads(body)["event"] for body, _ in seen[:3]]
    assert (events[0]["type"], events[0]["channel_type"], events[0]["channel"]) == ("message", "im", "D0CUSTDM")
    assert events[1]["type"] == "app_mention" and f"<@{BOT_USER_ID}>" in events[1]["text"]
    assert events[1]["thread_ts"] == "1.1"
    assert (events[2]["channel_type"], events[2]["channel"]) == ("channel", "C0PUBLIC")
    for body, headers in seen:
        expected = slack_fake.signed_headers(
            body, secret, headers["Content-Type"], int(headers["X-Slack-Request-Timestamp"])
        )
        assert headers["X-Slack-Signature"] == expected["X-Slack-Signature"]
    press_body, press_headers = seen[3]
    assert press_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (press_headers["X-Slack-Retry-Num"], press_headers["X-Slack-Retry-Reason"]) == ("1", "http_timeout")
    payload = json.loads(parse_qs(press_body)["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "csat_5" and payload["actions"][0]["value"] == "5"
    assert payload["container"]["channel_id"] == "D0CUSTDM" and payload["trigger_id"] == "t.1"
    assert "X-Slack-Retry-Num" not in seen[0][1]


# -- the network guard ----------------------------------------------------------------------------------


def test_network_guard_blocks_outbound_and_allows_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = NetworkGuard()
    guard.install(monkeypatch)  # on top of the autouse guard, so this test's own guard sees the attempts first
    with pytest.raises(OSError, match="blocked outbound connection"):
        socket.create_connection(("203.0.113.1", 80), timeout=0.5)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(OSError, match="blocked"):
        sock.connect_ex(("2001:db8::1", 443, 0, 0))
    assert len(guard.blocked) == 2
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=1):
            pass
    assert NetworkGuard.is_local(socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0))
    assert NetworkGuard.is_local(socket.AF_INET, ("localhost", 80))
    assert not NetworkGuard.is_local(socket.AF_INET, ("example.com", 80))
    assert NetworkGuard.is_local(socket.AF_UNIX, "/tmp/some.sock")
    # This machine's own interface addresses stay on this machine (a pod's address, in a cluster).
    assert all(NetworkGuard.is_local(socket.AF_INET, (address, 80)) for address in interface_addresses())
    assert len(guard.blocked) == 2


async def test_tests_run_on_asyncio_s_own_loop() -> None:
    """Not on uvloop, which importing Rasa installs for the whole process (see conftest's event_loop_policy)."""
    import rasa.core.channels.channel  # noqa: F401  (installs uvloop's policy, as collection does)

    assert type(asyncio.get_running_loop()).__module__.startswith("asyncio.")
