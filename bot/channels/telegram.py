"""Telegram customers, through python-telegram-bot inside the gateway.

Updates arrive by webhook (``POST /telegram/webhook``; Telegram's secret-token header is checked
in constant time, a wrong or missing one gets 403 and nothing is stored) or, for development, by
long polling (``BOT_TELEGRAM_MODE=polling``). Either way an update is stored in the durable inbox
before Telegram is told it arrived; the inbox worker then hands it to :meth:`TelegramChannel.process`.

* One conversation per private chat (``telegram-<chat id>``); messages in groups are ignored.
* Text goes to the dialogue; a bot reply's buttons become an inline keyboard whose
  ``callback_data`` names the stored message and the button (``b:<cursor>:<index>``, well within
  Telegram's 64 bytes), so a press sends that button's payload.
* ``/start`` greets; ``/start <token>`` (a deep link from the company's site) links the Telegram
  user to the customer account first (:mod:`bot.identity.deeplinks`).
* ``/notify on|off`` turns the linked customer's order updates on or off
  (:mod:`bot.notifications.commands`; docs/notifications.md).
* Replies leave through the outbox (:class:`TelegramSender`): plain text, no parse mode, so
  nothing a customer typed can turn into markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.channels.inbox import Inbox, InboxEvent
from bot.channels.outbox import (
    TELEGRAM_LIMITS,
    Delivery,
    PermanentFailure,
    RateLimited,
    TemporaryFailure,
)
from bot.channels.texts import ChannelTexts
from bot.conversations.service import ConversationService, CustomerMessage, InboxTurn
from bot.conversations.store import ConversationStore
from bot.core.messages import StoredMessage
from bot.core.text import clean_text
from bot.db.leases import ReplicaLeases
from bot.handoff.language import language_code
from bot.identity.deeplinks import DeepLinks
from bot.notifications.commands import ChatOptIn, is_notify_command
from bot.settings import Limits, TelegramSettings

_LOGGER = logging.getLogger(__name__)

PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "callback_query"]
#: Telegram's limit on one message's text.
MAX_TEXT = 4096
#: The dialogue payload of a plain ``/start``.
GREET_PAYLOAD = "/greet"


def make_bot(settings: TelegramSettings, read_timeout: float = 10.0) -> Bot:
    """A ``telegram.Bot`` on ``BOT_TELEGRAM_API_URL`` (tests point it at a fake Bot API)."""
    request = HTTPXRequest(connection_pool_size=32, read_timeout=read_timeout, write_timeout=10, connect_timeout=5)
    polling = HTTPXRequest(connection_pool_size=2, read_timeout=40, write_timeout=10, connect_timeout=5)
    return Bot(
        settings.bot_token,
        base_url=settings.api_url,
        request=request,
        get_updates_request=polling,
    )


def route(update: dict[str, Any]) -> tuple[str, str] | None:
    """(inbox id, conversation id) of an update the bot handles; ``None`` for the rest (acknowledged only)."""
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    message = update.get("message")
    if isinstance(message, dict):
        chat = message.get("chat")
    else:
        query = update.get("callback_query")
        inner = query.get("message") if isinstance(query, dict) else None
        chat = inner.get("chat") if isinstance(inner, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not isinstance(chat, dict) or chat.get("type") != "private" or type(chat_id) is not int:
        return None
    if not _readable(update):
        _LOGGER.warning("telegram.malformed_update")
        return None
    return str(update_id), f"telegram-{chat_id}"


def _readable(update: dict[str, Any]) -> bool:
    """Whether python-telegram-bot reads the update with the parts :meth:`TelegramChannel.process` uses.

    An update it cannot read is acknowledged and dropped at once: stored, it would fail for a day
    and hold up the chat's later messages.
    """
    try:
        read = Update.de_json(update, None)
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    if read is None:
        return False
    if read.callback_query is not None:
        query = read.callback_query
        message = query.message
        return (
            isinstance(query.from_user, User)
            and (query.data is None or isinstance(query.data, str))
            and (message is None or type(message.chat.id) is int)
        )
    message = read.message
    return (
        message is not None
        and type(message.chat.id) is int
        and (message.text is None or isinstance(message.text, str))
        and (message.from_user is None or isinstance(message.from_user, User))
    )


def _seconds(value: int | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramSender:
    """Sends stored messages to Telegram chats (the outbox's Telegram side)."""

    platform = PLATFORM
    limits = TELEGRAM_LIMITS

    def __init__(self, bot: Bot) -> None:
        """Send with ``bot``."""
        self._bot = bot

    async def deliver(self, delivery: Delivery, message: StoredMessage) -> str | None:
        """Send one message (with its buttons as an inline keyboard); translate Telegram's errors."""
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(button.title[:64], callback_data=f"b:{message.cursor}:{index}")]
                    for index, button in enumerate(message.buttons)
                ]
            )
        text = message.text or "…"
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        try:
            sent = await self._bot.send_message(
                chat_id=delivery.address["chat_id"], text=text, reply_markup=markup, disable_web_page_preview=True
            )
        except RetryAfter as exc:
            raise RateLimited(_seconds(exc.retry_after)) from exc
        except (Forbidden, InvalidToken) as exc:
            raise PermanentFailure(f"refused: {exc.message}") from exc
        except BadRequest as exc:  # a subclass of NetworkError: check it first
            raise PermanentFailure(f"bad request: {exc.message}") from exc
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            raise TemporaryFailure(f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc.message}") from exc
        return str(sent.message_id)


#: Seconds a long poll waits for updates; the lease of the replica that polls.
POLL_TIMEOUT_S = 25
POLL_LEASE = "telegram_polling"


class TelegramChannel:
    """The Telegram adapter: webhook or polling in, inbox processing, outbox sender out."""

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        limits: Limits,
        inbox: Inbox,
        conversations: ConversationService,
        store: ConversationStore,
        texts: ChannelTexts,
        deep_links: DeepLinks | None,
        wake_inbox: Callable[[], None],
        leases: ReplicaLeases | None = None,
        opt_in: ChatOptIn | None = None,
    ) -> None:
        """Compose the adapter (no network until :meth:`start`).

        ``opt_in`` answers ``/notify on|off`` (without it the command goes to the dialogue as text).

        With ``leases`` (several replicas) only the replica holding the ``telegram_polling``
        lease polls (Telegram allows one ``getUpdates`` at a time); the others wait to take over.
        """
        self._settings = settings
        self._limits = limits
        self._inbox = inbox
        self._conversations = conversations
        self._store = store
        self._texts = texts
        self._deep_links = deep_links
        self._wake_inbox = wake_inbox
        self._leases = leases
        self._opt_in = opt_in
        self.bot = make_bot(settings)
        self.sender = TelegramSender(self.bot)
        self._poller: asyncio.Task[None] | None = None

    @property
    def username(self) -> str | None:
        """The bot's @username (known once ``getMe`` answered at start)."""
        try:
            return self.bot.username
        except RuntimeError:
            return None

    async def start(self) -> None:
        """Check the token (``getMe``); start long polling in polling mode."""
        try:
            await self.bot.initialize()
            _LOGGER.info("telegram.started mode=%s bot=%s", self._settings.mode, self.username)
        except TelegramError as exc:  # Telegram unreachable: the webhook and the outbox still work later
            _LOGGER.warning("telegram.get_me_failed error=%s", type(exc).__name__)
        if self._settings.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="telegram-poller")

    async def close(self) -> None:
        """Stop polling and close the HTTP client."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            if self._leases is not None:
                with contextlib.suppress(Exception):  # unreleased, it runs out by itself
                    await asyncio.to_thread(self._leases.release, POLL_LEASE)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    # -- in ---------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /telegram/webhook``: check the secret, store the update, then acknowledge it."""
        given = request.headers.get(SECRET_HEADER, "")
        expected = self._settings.webhook_secret
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")) or not expected:
            _LOGGER.warning("telegram.webhook_forbidden")
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            update = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "malformed update"}, status=400)
        if not isinstance(update, dict):
            return web.json_response({"error": "malformed update"}, status=400)
        try:
            await self._accept(update)
        except SQLAlchemyError:
            _LOGGER.exception("telegram.store_failed")
            return web.json_response({"error": "try again"}, status=503)  # Telegram delivers it again
        return web.json_response({"ok": True})

    async def _accept(self, update: dict[str, Any]) -> None:
        routed = route(update)
        if routed is None:
            _LOGGER.info("telegram.update_ignored")
            return
        external_id, conversation_id = routed
        if await self._inbox.accept(PLATFORM, external_id, conversation_id, update):
            self._wake_inbox()
        else:
            _LOGGER.info("telegram.redelivery update=%s", external_id)

    async def _poll(self) -> None:
        """Long polling: store each update, then confirm it with the next ``offset``."""
        offset: int | None = None
        failures = 0
        webhook_removed = False
        while True:
            try:
                if not await self._holding_poll_lease():
                    offset = None  # whoever polls confirms updates; start from Telegram's own offset later
                    await asyncio.sleep(POLL_TIMEOUT_S / 5)
                    continue
                if not webhook_removed:
                    with contextlib.suppress(TelegramError):
                        await self.bot.delete_webhook()
                    webhook_removed = True
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES
                )
                for update in updates:
                    await self._accept(update.to_dict())
                    offset = update.update_id + 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except (TelegramError, SQLAlchemyError) as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                _LOGGER.warning("telegram.poll_failed error=%s retry_in=%.1f", type(exc).__name__, delay)
                await asyncio.sleep(delay)

    async def _holding_poll_lease(self) -> bool:
        if self._leases is None:
            return True
        return await asyncio.to_thread(self._leases.hold, POLL_LEASE, POLL_TIMEOUT_S * 2 + 10)

    # -- processing (inbox worker) ----------------------------------------------------------

    async def process(self, event: InboxEvent) -> None:
        """Turn one stored update into a customer turn (or a link, or a polite notice)."""
        update = Update.de_json(event.body, self.bot)
        if update is None:
            return
        address = None
        user = None
        text = payload = None
        if update.callback_query is not None:
            query = update.callback_query
            user = query.from_user
            chat = query.message.chat if query.message is not None else None
            if chat is None:
                return
            address = {"platform": PLATFORM, "chat_id": chat.id}
            with contextlib.suppress(TelegramError):
                await self.bot.answer_callback_query(query.id)  # stops the button's spinner
            button = await self._button(event.conversation_id, query.data or "")
            if button is None:
                await self._notice(event, address, self._texts.button_expired)
                return
            text, payload = button
        elif update.message is not None:
            message = update.message
            user = message.from_user
            address = {"platform": PLATFORM, "chat_id": message.chat.id}
            raw = clean_text(message.text or "")
            if not raw:
                await self._notice(event, address, self._texts.unsupported_content)
                return
            if len(raw) > self._limits.max_message_chars:
                notice = self._texts.message_too_long.format(limit=self._limits.max_message_chars)
                await self._notice(event, address, notice)
                return
            text = raw
            if self._opt_in is not None and user is not None and is_notify_command(raw):
                answer = await self._opt_in.command(PLATFORM, str(user.id), raw)
                await self._notice(event, address, answer)
                return
            if raw == "/start" or raw.startswith("/start "):
                argument = raw[len("/start") :].strip()
                if argument:
                    linked = await self._link(argument, user.id if user else None)
                    await self._notice(event, address, self._texts.linked if linked else self._texts.link_invalid)
                    if not linked:
                        return
                payload = GREET_PAYLOAD
        if address is None or text is None or user is None:
            return
        await self._conversations.handle(
            CustomerMessage(
                conversation_id=event.conversation_id,
                channel=PLATFORM,
                text=text,
                payload=payload,
                client_id=f"tg:{event.external_id}",
                channel_user=str(user.id),
                address=address,
                language=language_code(user.language_code),
            ),
            InboxTurn(event.id, event.state),
        )

    async def _button(self, conversation_id: str, data: str) -> tuple[str, str] | None:
        """(title, payload) of the pressed button, if it belongs to this conversation's stored message."""
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != "b" or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        message = await self._store.message(int(parts[1]))
        index = int(parts[2])
        if message is None or message.conversation_id != conversation_id or index >= len(message.buttons):
            return None
        button = message.buttons[index]
        return button.title, button.payload

    async def _link(self, token: str, user_id: int | None) -> bool:
        if self._deep_links is None or user_id is None:
            return False
        customer = await asyncio.to_thread(self._deep_links.redeem, token, PLATFORM, str(user_id))
        return customer is not None

    async def _notice(self, event: InboxEvent, address: dict[str, Any], text: str) -> None:
        """A reply outside the dialogue (stored, so it goes through the outbox like any other)."""
        await self._store.ensure(event.conversation_id, PLATFORM, None, address)
        await self._conversations.system_message(event.conversation_id, text)


async def set_webhook(settings: TelegramSettings, url: str) -> str:
    """Point Telegram at ``url`` with the webhook secret; a one-line report (``python -m bot telegram``)."""
    async with make_bot(settings) as bot:
        await bot.set_webhook(
            url=url,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        info = await bot.get_webhook_info()
        return f"webhook set for @{bot.username}: {info.url} (pending updates: {info.pending_update_count})"


async def webhook_info(settings: TelegramSettings) -> str:
    """What Telegram knows about the webhook."""
    async with make_bot(settings) as bot:
        info = await bot.get_webhook_info()
        error = f", last error: {info.last_error_message}" if info.last_error_message else ""
        where = info.url or "(none: long polling)"
        return f"@{bot.username}: webhook {where}, pending {info.pending_update_count}{error}"


async def delete_webhook(settings: TelegramSettings) -> str:
    """Remove the webhook (for long polling in development)."""
    async with make_bot(settings) as bot:
        await bot.delete_webhook(drop_pending_updates=False)
        return f"webhook deleted for @{bot.username}"
