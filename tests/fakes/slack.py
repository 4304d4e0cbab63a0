"""A fake Slack Web API for desk tests: a real aiohttp app on a free port that records every call.

It also plays Slack's Socket Mode server: ``apps.connections.open`` hands out ``ws://<host>/socket``
on the same app, which greets each client with ``hello``; tests push envelopes down the socket with
:meth:`FakeSlack.push_envelope` and the client's acknowledgements are recorded in ``acks``.

Faults are injected per method with :meth:`FakeSlack.fail_next`. The customer side (a DM, a mention, a
channel message, a button press) is built with :func:`dm_event` and friends and POSTed, signed, to the
bot's Events API / interactivity endpoint with :func:`deliver`.

The fake may be served from another thread (``tests.stack.serve_in_thread``) while a test's loop reads
``calls``: the handlers only append to lists, and the ``wait_*`` helpers poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

BOT_USER_ID = "U0BOTUSER"
BOT_ID = "B0BOT"
TEAM_ID = "T0NIMBUS"
#: The id Slack gives the agents' channel (the settings may name it by id or by name).
CHANNEL_ID = "C0AGENTS"
APP_ID = "A0DESK"
#: A channel given as an id (``C…``, ``D…``, ``G…``) is echoed back by ``chat.postMessage``; a name is not.
_CHANNEL_ID_RE = re.compile(r"[CDG][A-Z0-9]+")
#: A member id given as the channel posts in the app's DM with them (``U0AGENT01`` -> ``D0AGENT01``).
_USER_ID_RE = re.compile(r"[UW][A-Z0-9]+")
FAULT_KINDS = ("429", "5xx", "timeout")
FORM = "application/x-www-form-urlencoded"
_POLL = 0.02


@dataclass
class SlackCall:
    """One Web API call: the method, its arguments (JSON body or form fields), when and how it was answered."""

    method: str
    args: dict[str, Any]
    token: str | None
    #: ``time.monotonic()`` when the request was received.
    at: float = 0.0
    #: ``"ok"``, ``"429"``, ``"5xx"``, ``"timeout"`` (an injected fault) or ``"error"`` (unknown method, API error).
    outcome: str = "ok"
    #: The ts the fake gave a posted message (``chat.postMessage``, ``chat.postEphemeral``), once answered.
    ts: str | None = None


@dataclass
class _Fault:
    kind: str
    retry_after: int
    delay: float


def resolved_channel(channel: Any) -> str:
    """The channel id ``chat.postMessage`` answers with.

    Ids are echoed, a member id becomes the id of the app's DM with them (:func:`dm_channel_of`),
    names resolve to ``CHANNEL_ID``.
    """
    if isinstance(channel, str) and _USER_ID_RE.fullmatch(channel):
        return dm_channel_of(channel)
    return channel if isinstance(channel, str) and _CHANNEL_ID_RE.fullmatch(channel) else CHANNEL_ID


def dm_channel_of(user: str) -> str:
    """The id of the app's DM with member ``user`` (``U0AGENT01`` -> ``D0AGENT01``)."""
    return "D" + user[1:]


@dataclass
class FakeSlack:
    """Stand-in for ``https://slack.com/api/``; unknown methods are recorded in ``unknown`` and fail."""

    calls: list[SlackCall] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: Each member's App Home view as last published (``views.publish``).
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Reactions the bot added: ``(channel, ts, emoji name)``.
    reactions: list[tuple[str, str, str]] = field(default_factory=list)
    #: The bot's messages still in Slack, ``(channel id, ts) -> text``: posted, updated, not deleted.
    live: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Socket Mode: every JSON frame a client sent, and those that acknowledge an envelope.
    frames: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    #: Socket Mode: how many connections were ever accepted, and the open ones.
    connections: int = 0
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _envelopes: itertools.count = field(default_factory=lambda: itertools.count(1))
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _deleted: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def called(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to ``method``, in order."""
        return [call.args for call in self.calls if call.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The arguments of every successful ``chat.postMessage``, in order.

        With ``channel``, only those posted to it: by the channel as requested (``"#support-agents"``,
        ``"D0CUSTDM"``) or as the fake resolved it (``CHANNEL_ID`` for a channel name).
        """
        return [
            call.args
            for call in list(self.calls)
            if call.method == "chat.postMessage"
            and call.outcome == "ok"
            and (channel is None or channel in (call.args.get("channel"), resolved_channel(call.args.get("channel"))))
        ]

    async def wait_posted(self, channel: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least ``count`` successful ``chat.postMessage`` to ``channel`` (waits for them); all of them."""
        deadline = time.monotonic() + timeout
        while len(posted := self.posted(channel)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} message(s) posted to {channel} within {timeout}s, got {len(posted)}: "
                    f"{[p.get('text') for p in posted]}; all calls: "
                    f"{[(c.method, c.outcome, c.args.get('channel')) for c in list(self.calls)]}"
                )
            await asyncio.sleep(_POLL)
        return posted

    def fail_next(self, method: str, kind: str, count: int = 1, *, retry_after: int = 1, delay: float = 2.0) -> None:
        """Make the next ``count`` calls of ``method`` fail.

        ``"429"``: HTTP 429, ``Retry-After: <retry_after>``, ``{"ok": false, "error": "ratelimited"}``;
        ``"5xx"``: HTTP 503 with a text body; ``"timeout"``: the 503 only comes after ``delay`` seconds.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._faults.setdefault(method, []).extend(_Fault(kind, retry_after, delay) for _ in range(count))

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            pending = self._faults.get(method)
            return pending.pop(0) if pending else None

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        """The frame that acknowledged ``envelope_id``, ``None`` while unacknowledged."""
        return next((ack for ack in self.acks if ack["envelope_id"] == envelope_id), None)

    async def wait_connected(self, timeout: float = 5.0) -> web.WebSocketResponse:
        """The newest open Socket Mode connection (waits for one)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.sockets:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("no Socket Mode client connected")
            await asyncio.sleep(0.01)
        return self.sockets[-1]

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The client's acknowledgement of ``envelope_id`` (waits for it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (ack := self.ack_for(envelope_id)) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"envelope {envelope_id} was not acknowledged")
            await asyncio.sleep(0.01)
        return ack

    async def push_envelope(self, envelope: dict[str, Any], *, wait_ack: bool = True) -> dict[str, Any]:
        """Send a Socket Mode envelope (``type`` and ``payload``; an ``envelope_id`` is added when missing).

        Returns the client's acknowledgement, or the envelope as sent when ``wait_ack`` is false.
        Call it on the loop that serves this fake.
        """
        sent = {"envelope_id": f"env-{next(self._envelopes):06d}", "accepts_response_payload": False, **envelope}
        socket = await self.wait_connected()
        await socket.send_json(sent)
        return await self.wait_for_ack(sent["envelope_id"]) if wait_ack else sent

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)  # answers the client's "sdk-ping-pong" pings
        await socket.prepare(request)
        self.connections += 1
        self.sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "debug_info": {"host": "fake-slack", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0DESK"},
            }
        )
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    continue
                data = json.loads(frame.data)
                self.frames.append(data)
                if isinstance(data, dict) and "envelope_id" in data:
                    self.acks.append(data)
        finally:
            self.sockets.remove(socket)
        return socket

    async def _close_sockets(self, _app: web.Application) -> None:
        for socket in list(self.sockets):
            await socket.close(code=1001, message=b"server shutdown")

    def _answer(self, method: str, args: dict[str, Any], host: str = "") -> dict[str, Any] | None:
        if method == "apps.connections.open":
            return {"url": f"ws://{host}/socket"}
        if method == "auth.test":
            return {
                "url": "https://nimbus.slack.com/",
                "team": "Nimbus",
                "user": "supportbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            message = {"type": "message", "text": args.get("text", ""), "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts}
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            channel = resolved_channel(args.get("channel"))
            with self._lock:
                self.live[(channel, ts)] = str(args.get("text", ""))
            return {"channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            key = (str(args.get("channel")), str(args.get("ts")))
            with self._lock:
                if key in self._deleted:
                    return {"ok": False, "error": "message_not_found"}
                self.live[key] = str(args.get("text", ""))
            return {"channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text", "")}
        if method == "chat.delete":
            # Slack deletes only what the bot posted; anything else it does not know is "message_not_found".
            key = (str(args.get("channel")), str(args.get("ts")))
            with self._lock:
                if key not in self.live:
                    return {"ok": False, "error": "message_not_found"}
                del self.live[key]
                self._deleted.add(key)
            return {"channel": key[0], "ts": key[1]}
        if method == "chat.postEphemeral":
            return {"message_ts": self._next_ts()}
        if method == "reactions.add":
            reaction = (str(args.get("channel")), str(args.get("timestamp")), str(args.get("name")))
            if reaction in self.reactions:
                return {"ok": False, "error": "already_reacted"}
            self.reactions.append(reaction)
            return {}
        if method == "views.publish":
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not isinstance(view, dict) or view.get("type") != "home" or not args.get("user_id"):
                return {"ok": False, "error": "invalid_arguments"}
            self.home_views[str(args["user_id"])] = view
            return {"view": {"id": f"V{len(self.home_views):08d}", **view}}
        return None

    def app(self) -> web.Application:
        """The aiohttp application serving ``/api/<method>`` and the Socket Mode endpoint ``/socket``."""
        app = web.Application()

        async def api(request: web.Request) -> web.Response:
            received = time.monotonic()
            method = request.match_info["method"]
            if request.content_type == "application/json":
                args = dict(await request.json())
            else:
                args = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
                for key in ("blocks", "attachments"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
            args = {**request.query, **args}  # slack_sdk sends some methods' arguments (chat.delete) as query params
            token = request.headers.get("Authorization", "").removeprefix("Bearer ") or None
            fault = self._take_fault(method)
            if fault is not None:
                self.calls.append(SlackCall(method, args, token, received, fault.kind))
                if fault.kind == "429":
                    return web.json_response(
                        {"ok": False, "error": "ratelimited"},
                        status=429,
                        headers={"Retry-After": str(fault.retry_after)},
                    )
                if fault.kind == "timeout":
                    await asyncio.sleep(fault.delay)
                return web.Response(status=503, text="upstream error")
            call = SlackCall(method, args, token, received)
            self.calls.append(call)
            answer = self._answer(method, args, request.host)
            if method in ("chat.postMessage", "chat.postEphemeral") and answer is not None:
                call.ts = answer.get("ts") or answer.get("message_ts")
            if answer is None:
                call.outcome = "error"
                self.unknown.append(method)
                return web.json_response({"ok": False, "error": "unknown_method"})
            if answer.get("ok") is False:
                call.outcome = "error"  # an API error Slack answers with HTTP 200 (message_not_found...)
            return web.json_response({"ok": True, **answer})

        app.router.add_post("/api/{method}", api)
        app.router.add_get("/socket", self._socket)
        app.on_shutdown.append(self._close_sockets)
        return app


async def start_fake_slack() -> tuple[FakeSlack, TestServer]:
    """Start a fake Slack Web API on 127.0.0.1 and a free port (base URL: ``<server>/api/``)."""
    fake = FakeSlack()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    return fake, server


def signed_headers(body: str, secret: str, content_type: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a request Slack signed with ``secret`` (v0 signature over timestamp and body)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={signature}"}


def root_ts_of(fake: FakeSlack, handoff_id: int) -> str | None:
    """The ts the fake gave the root message announcing ``handoff_id`` in the agents' channel."""
    return _ts_of(fake, handoff_id, f"handoff-{handoff_id}", dm=False)


def offer_ts_of(fake: FakeSlack, handoff_id: int, user: str) -> str | None:
    """The ts of the DM offering ``handoff_id`` to member ``user`` (the latest such offer)."""
    return _ts_of(fake, handoff_id, f"offer:{handoff_id}", dm=True, channel=user, latest=True)


def _ts_of(
    fake: FakeSlack, handoff_id: int, block_id: str, *, dm: bool, channel: str | None = None, latest: bool = False
) -> str | None:
    found = None
    for call in list(fake.calls):
        blocks = call.args.get("blocks") or []
        target = str(call.args.get("channel", ""))
        if call.method != "chat.postMessage" or call.args.get("thread_ts") or call.ts is None:
            continue
        if bool(_USER_ID_RE.fullmatch(target) or target.startswith("D")) != dm or channel not in (None, target):
            continue
        if any(str(block.get("block_id", "")) == block_id for block in blocks):
            found = call.ts
            if not latest:
                return found
    return found


def _block_actions(
    user: str,
    *,
    channel: str,
    channel_name: str,
    message_ts: str,
    message_text: str,
    trigger_id: str,
    action: dict[str, Any],
    thread_ts: str | None = None,
) -> str:
    """A form-encoded ``block_actions`` interactivity request (``payload=<json>``)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": message_text}
    if thread_ts:
        container["thread_ts"] = thread_ts
        message["thread_ts"] = thread_ts
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "nimbus"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": trigger_id,
        "channel": {"id": channel, "name": channel_name},
        "message": message,
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)})


def button_press(action_id: str, user: str, handoff_id: int, root_ts: str) -> str:
    """A form-encoded ``block_actions`` request: ``user`` pressed a button of the handoff's root message."""
    return _block_actions(
        user,
        channel=CHANNEL_ID,
        channel_name="support-agents",
        message_ts=root_ts,
        message_text="New handoff",
        trigger_id="123.456.abc",
        action={
            "type": "button",
            "action_id": action_id,
            "block_id": f"handoff-{handoff_id}",
            "value": str(handoff_id),
            "action_ts": "1700000001.000001",
        },
    )


def offer_button_press(action_id: str, user: str, handoff_id: int, offer_ts: str) -> str:
    """A form-encoded ``block_actions`` request: ``user`` pressed Accept/Decline on the DM offering ``handoff_id``."""
    return _block_actions(
        user,
        channel=dm_channel_of(user),
        channel_name="directmessage",
        message_ts=offer_ts,
        message_text=f"Handoff #{handoff_id} is offered to you",
        trigger_id="123.456.offer",
        action={
            "type": "button",
            "action_id": action_id,
            "block_id": f"offer:{handoff_id}",
            "value": str(handoff_id),
            "action_ts": f"{int(time.time())}.000001",
        },
    )


def slash_command(user: str, text: str, *, command: str = "/support", channel: str = CHANNEL_ID) -> str:
    """A form-encoded slash command request, as Slack POSTs it to the request URL (signed like events)."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "nimbus",
            "channel_id": channel,
            "channel_name": "support-agents" if channel == CHANNEL_ID else "directmessage",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.invalid/commands/T0/1/x",
            "trigger_id": "123.456.command",
        }
    )


def home_opened_event(user: str, *, event_id: str, tab: str = "home") -> str:
    """An Events API ``app_home_opened`` event: ``user`` opened the app's Home (or Messages) tab."""
    ts = f"{int(time.time())}.000100"
    event = {"type": "app_home_opened", "user": user, "channel": dm_channel_of(user), "tab": tab, "event_ts": ts}
    return _event_callback(event, event_id)


def home_button_press(user: str, presence: str) -> str:
    """A form-encoded ``block_actions`` request from the App Home: ``user`` pressed a presence button."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "nimbus"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "V00000001"},
        "trigger_id": "123.456.home",
        "view": {"id": "V00000001", "type": "home", "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": f"presence_{presence}",
                "block_id": "presence",
                "value": presence,
                "action_ts": f"{int(time.time())}.000001",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def customer_button_press(
    user: str,
    *,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str,
    trigger_id: str,
    thread_ts: str | None = None,
) -> str:
    """A form-encoded ``block_actions`` request: customer ``user`` pressed a button of a bot message.

    POST it with ``content_type=FORM`` (:func:`deliver` also recognises a ``payload=`` body by itself).
    """
    return _block_actions(
        user,
        channel=channel,
        channel_name="directmessage" if channel.startswith("D") else channel.lower(),
        message_ts=message_ts,
        message_text="",
        trigger_id=trigger_id,
        thread_ts=thread_ts,
        action={
            "type": "button",
            "action_id": action_id,
            "block_id": f"{action_id}-block",
            "value": value,
            "action_ts": f"{int(time.time())}.000001",
        },
    )


def _event_callback(event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            "event": event,
        }
    )


def _message_event(
    kind: str, user: str, text: str, ts: str, channel: str, thread_ts: str | None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "channel": channel, **extra, "user": user, "text": text, "ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update({"team": TEAM_ID, "event_ts": ts})
    return event


def dm_event(user: str, text: str, *, event_id: str, ts: str, channel: str = "D0CUSTDM") -> str:
    """An Events API ``message`` event: customer ``user`` wrote ``text`` in a DM with the bot."""
    return _event_callback(_message_event("message", user, text, ts, channel, None, channel_type="im"), event_id)


def mention_event(
    user: str, text: str, *, event_id: str, ts: str, channel: str = "C0PUBLIC", thread_ts: str | None = None
) -> str:
    """An Events API ``app_mention`` event (``<@BOT_USER_ID>`` is prepended unless ``text`` mentions the bot)."""
    mention = f"<@{BOT_USER_ID}>"
    if mention not in text:
        text = f"{mention} {text}"
    return _event_callback(_message_event("app_mention", user, text, ts, channel, thread_ts), event_id)


def channel_message_event(
    user: str, text: str, *, event_id: str, ts: str, channel: str = "C0PUBLIC", thread_ts: str | None = None
) -> str:
    """An Events API ``message`` event: ``user`` wrote ``text`` in a public channel (optionally in a thread)."""
    return _event_callback(
        _message_event("message", user, text, ts, channel, thread_ts, channel_type="channel"), event_id
    )


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    body: str,
    secret: str,
    *,
    content_type: str = "application/json",
    retry_num: int | None = None,
) -> int:
    """POST a signed Events API / interactivity ``body`` to ``url`` like Slack does; the HTTP status.

    A ``payload=`` body (from :func:`customer_button_press` or :func:`button_press`) is sent form-encoded
    even with the default ``content_type``. ``retry_num`` adds Slack's retry headers (reason ``http_timeout``).
    """
    if content_type == "application/json" and body.startswith("payload="):
        content_type = FORM
    headers = signed_headers(body, secret, content_type)
    if retry_num is not None:
        headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
    async with session.post(url, data=body.encode(), headers=headers) as response:
        await response.read()
        return response.status


def thread_reply(user: str, text: str, root_ts: str, event_id: str, ts: str, *, channel: str = CHANNEL_ID) -> str:
    """An Events API ``message`` event: ``user`` replied ``text`` in the thread of ``root_ts`` (in ``channel``)."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0DESK",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            "event": {
                "type": "message",
                "channel": channel,
                "channel_type": "im" if channel.startswith("D") else "channel",
                "user": user,
                "text": text,
                "ts": ts,
                "thread_ts": root_ts,
                "event_ts": ts,
            },
        }
    )
