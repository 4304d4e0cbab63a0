"""A fake Slack Web API for desk tests: a real aiohttp app on a free port that records every call.

It also plays Slack's Socket Mode server: ``apps.connections.open`` hands out ``ws://<host>/socket``
on the same app, which greets each client with ``hello``; tests push envelopes down the socket with
:meth:`FakeSlack.push_envelope` and the client's acknowledgements are recorded in ``acks``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

BOT_USER_ID = "U0BOTUSER"
BOT_ID = "B0BOT"
TEAM_ID = "T0NIMBUS"
#: The id Slack gives the agents' channel (the settings may name it by id or by name).
CHANNEL_ID = "C0AGENTS"


@dataclass
class SlackCall:
    """One Web API call: the method and its arguments (JSON body or form fields)."""

    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class FakeSlack:
    """Stand-in for ``https://slack.com/api/``; unknown methods are recorded in ``unknown`` and fail."""

    calls: list[SlackCall] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: Socket Mode: every JSON frame a client sent, and those that acknowledge an envelope.
    frames: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    #: Socket Mode: how many connections were ever accepted, and the open ones.
    connections: int = 0
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _envelopes: itertools.count = field(default_factory=lambda: itertools.count(1))

    def called(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to ``method``, in order."""
        return [call.args for call in self.calls if call.method == method]

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
            return {"channel": CHANNEL_ID, "ts": ts, "message": message}
        if method == "chat.update":
            return {"channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text", "")}
        if method == "chat.postEphemeral":
            return {"message_ts": self._next_ts()}
        return None

    def app(self) -> web.Application:
        """The aiohttp application serving ``/api/<method>`` and the Socket Mode endpoint ``/socket``."""
        app = web.Application()

        async def api(request: web.Request) -> web.Response:
            method = request.match_info["method"]
            if request.content_type == "application/json":
                args = dict(await request.json())
            else:
                args = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
                for key in ("blocks", "attachments"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
            auth = request.headers.get("Authorization", "")
            self.calls.append(SlackCall(method, args, auth.removeprefix("Bearer ") or None))
            answer = self._answer(method, args, request.host)
            if answer is None:
                self.unknown.append(method)
                return web.json_response({"ok": False, "error": "unknown_method"})
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
    """The ts the fake gave the root message announcing ``handoff_id`` (ts count postMessage and postEphemeral)."""
    posted = [c for c in fake.calls if c.method in ("chat.postMessage", "chat.postEphemeral")]
    for number, call in enumerate(posted, start=1):
        blocks = call.args.get("blocks") or []
        announced = any(str(block.get("block_id", "")).endswith(f"-{handoff_id}") for block in blocks)
        if call.method == "chat.postMessage" and not call.args.get("thread_ts") and announced:
            return f"1700000000.{number:06d}"
    return None


def button_press(action_id: str, user: str, handoff_id: int, root_ts: str) -> str:
    """A form-encoded ``block_actions`` request: ``user`` pressed a button of the handoff's root message."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "nimbus"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0DESK",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": root_ts, "channel_id": CHANNEL_ID, "is_ephemeral": False},
        "trigger_id": "123.456.abc",
        "channel": {"id": CHANNEL_ID, "name": "support-agents"},
        "message": {"type": "message", "ts": root_ts, "text": "New handoff"},
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"handoff-{handoff_id}",
                "value": str(handoff_id),
                "action_ts": "1700000001.000001",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def thread_reply(user: str, text: str, root_ts: str, event_id: str, ts: str) -> str:
    """An Events API ``message`` event: ``user`` replied ``text`` in the thread of ``root_ts``."""
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
                "channel": CHANNEL_ID,
                "channel_type": "channel",
                "user": user,
                "text": text,
                "ts": ts,
                "thread_ts": root_ts,
                "event_ts": ts,
            },
        }
    )
