"""A fake Telegram Bot API for channel tests: a real aiohttp app on a free port that records every call.

The real ``telegram.Bot`` talks to it when built with ``base_url=base_url(str(server.make_url("/")))``.
python-telegram-bot 22 (``HTTPXRequest``) POSTs every method to ``<base_url><token>/<method>`` as
``application/x-www-form-urlencoded`` fields (``multipart/form-data`` when files are uploaded), where
string parameters are sent as they are and every other value is JSON-encoded (``chat_id=42``,
``disable_notification=true``, ``reply_markup={"inline_keyboard": ...}``); the fake decodes them back.

Faults are injected per method with :meth:`FakeTelegram.fail_next`. Customer-side traffic is built with
:meth:`FakeTelegram.text_update` and friends, then either queued for ``getUpdates`` (long polling) or
POSTed to the bot's webhook with :meth:`FakeTelegram.deliver`.

The fake may be served from another thread (``tests.stack.serve_in_thread``) while a test's loop reads
``calls``: the handlers only append to lists, and the ``wait_*`` helpers poll.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "123456:TEST-fake-telegram-token"
BOT_USER: dict[str, Any] = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Nimbus Support",
    "username": "nimbus_support_bot",
}
#: The header Telegram sets on webhook requests when ``setWebhook`` was given a ``secret_token``.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: How long ``getUpdates`` holds a long poll at most, whatever ``timeout`` the client asked for.
MAX_POLL_SECONDS = 5.0

#: Parameters that are strings in the Bot API: never JSON-decoded (``text="42"`` stays a string).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "data",
        "query",
        "emoji",
        "title",
        "description",
        "name",
        "certificate",
    }
)
FAULT_KINDS = ("429", "5xx", "timeout")
KNOWN_METHODS = frozenset(
    {
        "getMe",
        "sendMessage",
        "answerCallbackQuery",
        "editMessageText",
        "editMessageReplyMarkup",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "getUpdates",
        "sendChatAction",
        "setMyCommands",
        "deleteMyCommands",
    }
)
_POLL = 0.02


#: How many fakes this test run made (each starts its update ids in a range of its own).
_FAKES = itertools.count()


@dataclass
class TelegramCall:
    """One Bot API call: the method, its decoded parameters, when it arrived and how it was answered."""

    method: str
    args: dict[str, Any]
    #: ``time.monotonic()`` when the request was received.
    at: float
    #: ``"ok"``, ``"429"``, ``"5xx"``, ``"timeout"`` (an injected fault) or ``"error"`` (unknown method, bad token).
    outcome: str


@dataclass
class _Fault:
    kind: str
    retry_after: int
    delay: float


def decode_params(fields: dict[str, str]) -> dict[str, Any]:
    """Bot API parameters as PTB encodes them (strings as-is, anything else JSON) decoded to Python values."""
    args: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _STRING_FIELDS or not isinstance(value, str):
            args[key] = value
            continue
        try:
            args[key] = json.loads(value)
        except ValueError:  # "@channelusername", a file_id, a plain word...
            args[key] = value
    return args


def _chat_of(chat_id: Any) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id < 0:
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": "Nimbus customers"}
    if isinstance(chat_id, str) and chat_id.startswith("@"):
        return {"id": -1001000000001, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
    return {"id": chat_id, "type": "private", "first_name": "Ana"}


@dataclass
class FakeTelegram:
    """Stand-in for ``https://api.telegram.org/bot<token>/``; unknown methods are recorded in ``unknown``."""

    token: str = TOKEN
    calls: list[TelegramCall] = field(default_factory=list)
    #: Methods the fake does not know (answered 404); tests assert this stays empty.
    unknown: list[str] = field(default_factory=list)
    #: The arguments of the last ``setWebhook`` (``url``, ``secret_token``, ``allowed_updates``...); ``None``
    #: before any and after ``deleteWebhook``.
    webhook: dict[str, Any] | None = None
    _updates: list[dict[str, Any]] = field(default_factory=list)
    #: Updates below this id were confirmed by a ``getUpdates`` offset (or dropped) and are gone.
    _confirmed: int = 0
    _messages: dict[tuple[Any, int], dict[str, Any]] = field(default_factory=dict)
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Each fake numbers its updates in its own range: two fakes in one test run may deliver to
    # gateways sharing a database, which would take a reused update id for a redelivery.
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(10001 + 1_000_000 * next(_FAKES)))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _callback_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _closing: bool = False

    # -- inspection ----------------------------------------------------------------------------------

    def called(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to ``method`` (whatever its outcome), in order."""
        return [call.args for call in self.calls if call.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The arguments of every successful ``sendMessage`` (optionally to ``chat_id`` only), in order."""
        return [
            call.args
            for call in list(self.calls)
            if call.method == "sendMessage"
            and call.outcome == "ok"
            and (chat_id is None or call.args.get("chat_id") == chat_id)
        ]

    async def wait_sent(self, chat_id: int, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least ``count`` successful ``sendMessage`` to ``chat_id`` (waits for them); all of them, in order."""
        deadline = time.monotonic() + timeout
        while len(sent := self.sent(chat_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} message(s) to chat {chat_id} within {timeout}s, got {len(sent)}: "
                    f"{[m.get('text') for m in sent]}; all calls: "
                    f"{[(c.method, c.outcome, c.args.get('chat_id')) for c in list(self.calls)]}"
                )
            await asyncio.sleep(_POLL)
        return sent

    # -- fault injection -----------------------------------------------------------------------------

    def fail_next(self, method: str, kind: str, count: int = 1, *, retry_after: int = 1, delay: float = 2.0) -> None:
        """Make the next ``count`` calls of ``method`` fail.

        ``"429"``: HTTP 429 with ``parameters.retry_after``; ``"5xx"``: HTTP 502 Bad Gateway;
        ``"timeout"``: the answer (a 502) only comes after ``delay`` seconds and nothing is delivered,
        so a client with a shorter read timeout times out.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._faults.setdefault(method, []).extend(_Fault(kind, retry_after, delay) for _ in range(count))

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            pending = self._faults.get(method)
            return pending.pop(0) if pending else None

    # -- customer-side updates -----------------------------------------------------------------------

    def _user(self, user_id: int, first_name: str) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "username": f"{first_name.lower()}{user_id}",
            "language_code": "en",
        }

    def _incoming(
        self, chat_id: int, user_id: int | None, first_name: str, chat_type: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``from`` and ``chat`` of a customer message, and the start of the message itself."""
        sender = self._user(user_id if user_id is not None else abs(chat_id), first_name)
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": first_name, "username": sender["username"]}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": "Nimbus customers"}
        message = {"message_id": next(self._message_ids), "from": sender, "chat": chat, "date": int(time.time())}
        return sender, message

    def text_update(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ana",
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """An ``Update`` with a customer's text message (a ``bot_command`` entity when it starts with ``/``)."""
        _, message = self._incoming(chat_id, user_id, first_name, chat_type)
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}
            ]
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(
        self, chat_id: int, data: str, *, message_id: int, user_id: int | None = None, first_name: str = "Ana"
    ) -> dict[str, Any]:
        """An ``Update`` with a ``callback_query``: the customer pressed a button of bot message ``message_id``."""
        sender = self._user(user_id if user_id is not None else abs(chat_id), first_name)
        message = self._messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": _chat_of(chat_id),
            "date": int(time.time()),
            "text": "…",
        }
        query = {
            "id": f"{next(self._callback_ids)}{abs(chat_id)}",
            "from": sender,
            "chat_instance": f"-{abs(chat_id)}00",
            "data": data,
            "message": message,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def other_update(
        self,
        chat_id: int,
        kind: str = "sticker",
        *,
        user_id: int | None = None,
        first_name: str = "Ana",
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """An ``Update`` with a message that has no text: ``kind`` is ``"sticker"``, ``"photo"`` or ``"location"``."""
        _, message = self._incoming(chat_id, user_id, first_name, chat_type)
        if kind == "sticker":
            message["sticker"] = {
                "file_id": "CAACAgIAAxkBAAEBsticker",
                "file_unique_id": "AgADsticker",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        elif kind == "photo":
            message["photo"] = [
                {"file_id": "AgACAgIAAxkBAAEBphoto", "file_unique_id": "AQADphoto", "width": 90, "height": 90}
            ]
        elif kind == "location":
            message["location"] = {"latitude": 52.52, "longitude": 13.405}
        else:
            raise ValueError(f"unknown update kind {kind!r}")
        return {"update_id": next(self._update_ids), "message": message}

    def queue_update(self, update: dict[str, Any]) -> None:
        """Make ``update`` available to ``getUpdates`` (long-polling mode)."""
        self._updates.append(update)

    def pending_updates(self) -> list[dict[str, Any]]:
        """The queued updates that no ``getUpdates`` offset has confirmed yet."""
        return [u for u in list(self._updates) if u["update_id"] >= self._confirmed]

    async def deliver(
        self, session: aiohttp.ClientSession, url: str, update: dict[str, Any], secret: str | None
    ) -> int:
        """POST ``update`` to a webhook ``url`` like Telegram does; the HTTP status of the answer."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with session.post(url, json=update, headers=headers) as response:
            await response.read()
            return response.status

    # -- the Bot API ---------------------------------------------------------------------------------

    def _message(self, chat_id: Any, args: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": _chat_of(chat_id),
            "date": int(time.time()),
            "text": args.get("text", ""),
        }
        for key in ("reply_markup", "entities"):
            if args.get(key):
                message[key] = args[key]
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _edited(self, args: dict[str, Any], **changes: Any) -> dict[str, Any] | bool:
        if args.get("inline_message_id"):
            return True
        chat_id, message_id = args.get("chat_id"), args.get("message_id")
        base = self._messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": _chat_of(chat_id),
            "date": int(time.time()),
            "text": "",
        }
        edited = {**base, **changes, "edit_date": int(time.time())}
        if not edited.get("reply_markup"):
            edited.pop("reply_markup", None)
        self._messages[(chat_id, message_id)] = edited
        return edited

    async def _get_updates(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        offset = args.get("offset")
        if isinstance(offset, int) and offset < 0:
            pending = self.pending_updates()
            kept = pending[offset:]
            self._confirmed = kept[0]["update_id"] if kept else self._confirmed
        elif isinstance(offset, int) and offset > self._confirmed:
            self._confirmed = offset
        limit = args.get("limit") or 100
        wait = min(float(args.get("timeout") or 0), MAX_POLL_SECONDS)
        deadline = time.monotonic() + wait
        # polls: queue_update may run on another thread's loop, so no asyncio.Event can be shared
        while not (pending := self.pending_updates()) and time.monotonic() < deadline and not self._closing:  # noqa: ASYNC110
            await asyncio.sleep(_POLL)
        return pending[: max(1, min(int(limit), 100))]

    async def _answer(self, method: str, args: dict[str, Any]) -> Any:
        """The ``result`` of a method in ``KNOWN_METHODS``."""
        if method == "getMe":
            return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False}
        if method == "sendMessage":
            return self._message(args.get("chat_id"), args)
        if method == "answerCallbackQuery":
            return True
        if method == "editMessageText":
            changes: dict[str, Any] = {"text": args.get("text", "")}
            changes["reply_markup"] = args.get("reply_markup")
            return self._edited(args, **changes)
        if method == "editMessageReplyMarkup":
            return self._edited(args, reply_markup=args.get("reply_markup"))
        if method == "setWebhook":
            self.webhook = dict(args)
            if args.get("drop_pending_updates"):
                self._confirmed = next(self._update_ids)
            return True
        if method == "deleteWebhook":
            self.webhook = None
            if args.get("drop_pending_updates"):
                self._confirmed = next(self._update_ids)
            return True
        if method == "getWebhookInfo":
            info: dict[str, Any] = {
                "url": (self.webhook or {}).get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self.pending_updates()),
            }
            for key in ("max_connections", "allowed_updates", "ip_address"):
                if self.webhook and self.webhook.get(key) is not None:
                    info[key] = self.webhook[key]
            return info
        if method == "getUpdates":
            return await self._get_updates(args)
        return True  # sendChatAction, setMyCommands, deleteMyCommands

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        fields: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                return {**decode_params(fields), **dict(await request.json())}
            for key, value in (await request.post()).items():
                fields[key] = value if isinstance(value, str) else {"filename": getattr(value, "filename", None)}
        return decode_params(fields)

    def app(self) -> web.Application:
        """The aiohttp application serving ``POST``/``GET /bot<token>/<method>``."""
        app = web.Application()

        async def api(request: web.Request) -> web.Response:
            received = time.monotonic()
            method = request.match_info["method"]
            args = await self._read_args(request)
            if request.match_info["token"] != self.token:
                self.calls.append(TelegramCall(method, args, received, "error"))
                return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
            fault = self._take_fault(method)
            if fault is not None:
                self.calls.append(TelegramCall(method, args, received, fault.kind))
                if fault.kind == "429":
                    return web.json_response(
                        {
                            "ok": False,
                            "error_code": 429,
                            "description": f"Too Many Requests: retry after {fault.retry_after}",
                            "parameters": {"retry_after": fault.retry_after},
                        },
                        status=429,
                    )
                if fault.kind == "timeout":
                    await asyncio.sleep(fault.delay)
                return web.json_response({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502)
            if method not in KNOWN_METHODS:
                self.calls.append(TelegramCall(method, args, received, "error"))
                self.unknown.append(method)
                return web.json_response(
                    {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
                )
            if method == "getUpdates":  # recorded once answered: ``calls`` never shows a pending long poll
                result = await self._answer(method, args)
                self.calls.append(TelegramCall(method, args, received, "ok"))
            else:
                self.calls.append(TelegramCall(method, args, received, "ok"))
                result = await self._answer(method, args)
            return web.json_response({"ok": True, "result": result})

        async def closing(_app: web.Application) -> None:
            self._closing = True

        app.router.add_route("POST", "/bot{token}/{method}", api)
        app.router.add_route("GET", "/bot{token}/{method}", api)
        app.on_shutdown.append(closing)
        return app


def base_url(server_url: str) -> str:
    """What to pass as ``telegram.Bot(token, base_url=...)`` for a fake served at ``server_url``.

    PTB 22 appends the token to ``base_url`` (unless it contains ``{token}``) and then ``/<method>``.
    """
    return server_url.rstrip("/") + "/bot{token}"


async def start_fake_telegram(token: str = TOKEN) -> tuple[FakeTelegram, TestServer]:
    """Start a fake Telegram Bot API on 127.0.0.1 and a free port (``base_url(str(server.make_url("/")))``)."""
    fake = FakeTelegram(token=token)
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    return fake, server
