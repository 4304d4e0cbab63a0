"""The web widget channel: one WebSocket per browser tab, resumable by cursor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque

from aiohttp import WSMsgType, web

from bot.channels.web_protocol import (
    FrameError,
    Hello,
    Outgoing,
    Ping,
    error_frame,
    message_frame,
    parse_frame,
)
from bot.conversations.hub import ConversationHub
from bot.conversations.service import ConversationService, CustomerMessage
from bot.conversations.store import ConversationStore
from bot.core.messages import StoredMessage
from bot.settings import Limits
from bot.texts import Texts

_LOGGER = logging.getLogger(__name__)

PATH = "/ws"
RATE_LIMIT_MESSAGES = 20
RATE_LIMIT_WINDOW_S = 10.0
REPLAY_PAGE = 500


class _RateLimiter:
    """At most ``limit`` customer messages per ``window`` seconds on one connection."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()
        if len(self._times) >= self._limit:
            return False
        self._times.append(now)
        return True


async def _send_json(ws: web.WebSocketResponse, frame: dict[str, object]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(frame)


async def _forward(ws: web.WebSocketResponse, queue: asyncio.Queue[StoredMessage | None], sent: set[int]) -> None:
    """Send every message the hub delivers for this conversation, each cursor once."""
    while True:
        message = await queue.get()
        if message is None:
            await ws.close()
            return
        if message.cursor in sent:
            continue
        sent.add(message.cursor)
        await _send_json(ws, message_frame(message))


class WebChannel:
    """The widget's WebSocket endpoint (``GET /ws``; protocol: docs/websocket-protocol.md)."""

    def __init__(
        self,
        *,
        conversations: ConversationService,
        store: ConversationStore,
        hub: ConversationHub,
        texts: Texts,
        limits: Limits,
    ) -> None:
        """Compose the channel from the gateway's services."""
        self._conversations = conversations
        self._store = store
        self._hub = hub
        self._texts = texts
        self._limits = limits

    async def _hello(self, ws: web.WebSocketResponse) -> tuple[str, int, str | None] | None:
        """Wait for the hello frame; pick (or create) the conversation it resumes; keep its customer token."""
        try:
            first = await ws.receive(timeout=30)
        except asyncio.TimeoutError:
            await ws.close(message=b"hello expected")
            return None
        if first.type != WSMsgType.TEXT:
            return None
        try:
            frame = parse_frame(first.data, self._limits.max_message_chars)
        except FrameError as exc:
            await _send_json(ws, error_frame(exc.code, self._texts.bad_frame))
            await ws.close()
            return None
        if not isinstance(frame, Hello):
            await _send_json(ws, error_frame("bad_frame", self._texts.bad_frame))
            await ws.close()
            return None
        after = frame.after
        existing = await self._store.get(frame.conversation_id) if frame.conversation_id else None
        if existing is None or existing.channel != "web":
            # Unknown ids are never adopted: the server issues an unguessable one.
            conversation_id = f"web-{uuid.uuid4().hex}"
            await self._conversations.open_conversation(conversation_id, "web", None)
            after = 0
        else:
            conversation_id = existing.id
        # Checked on every message (it may expire during the connection), never logged.
        return conversation_id, after, frame.customer_token

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one widget connection."""
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
        await ws.prepare(request)
        picked = await self._hello(ws)
        if picked is None:
            return ws
        conversation_id, after, customer_token = picked
        queue = self._hub.subscribe(conversation_id)
        sent: set[int] = set()
        forwarder: asyncio.Task[None] | None = None
        inbox: asyncio.Queue[Outgoing] = asyncio.Queue()
        worker: asyncio.Task[None] | None = None
        try:
            await _send_json(ws, {"type": "welcome", "conversation_id": conversation_id})
            await self._replay(ws, conversation_id, after, sent)
            forwarder = asyncio.create_task(_forward(ws, queue, sent))
            worker = asyncio.create_task(self._process(ws, conversation_id, inbox, customer_token))
            await self._receive(ws, inbox)
        finally:
            self._hub.unsubscribe(conversation_id, queue)
            for task in (forwarder, worker):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return ws

    async def _replay(self, ws: web.WebSocketResponse, conversation_id: str, after: int, sent: set[int]) -> None:
        """Send what the tab has not seen yet, page by page until caught up."""
        while True:
            page = await self._store.messages_after(conversation_id, after, REPLAY_PAGE)
            for message in page:
                sent.add(message.cursor)
                await _send_json(ws, message_frame(message))
            if len(page) < REPLAY_PAGE:
                return
            after = page[-1].cursor

    async def _receive(self, ws: web.WebSocketResponse, inbox: asyncio.Queue[Outgoing]) -> None:
        """Read frames until the tab goes: answer pings, queue messages (rate-limited), refuse bad frames."""
        limiter = _RateLimiter(RATE_LIMIT_MESSAGES, RATE_LIMIT_WINDOW_S)
        max_chars = self._limits.max_message_chars
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            try:
                frame = parse_frame(raw.data, max_chars)
            except FrameError as exc:
                too_long = exc.code == "too_long"
                text = self._texts.message_too_long.format(limit=max_chars) if too_long else self._texts.bad_frame
                await _send_json(ws, error_frame(exc.code, text, exc.client_id))
                continue
            if isinstance(frame, Ping):
                await _send_json(ws, {"type": "pong"})
            elif isinstance(frame, Outgoing):
                if not limiter.allow():
                    await _send_json(ws, error_frame("rate_limited", self._texts.rate_limited, frame.client_id))
                    continue
                inbox.put_nowait(frame)

    async def _process(
        self,
        ws: web.WebSocketResponse,
        conversation_id: str,
        inbox: asyncio.Queue[Outgoing],
        customer_token: str | None,
    ) -> None:
        """Handle this connection's messages one at a time, in the order they arrived."""
        while True:
            frame = await inbox.get()
            await _send_json(ws, {"type": "typing", "on": True})
            try:
                result = await self._conversations.handle(
                    CustomerMessage(
                        conversation_id=conversation_id,
                        channel="web",
                        text=frame.text,
                        payload=frame.payload,
                        client_id=frame.client_id,
                        customer_token=customer_token,
                    )
                )
                if result.duplicate:
                    # A re-sent message (after a reconnect): confirm it again; the widget dedupes by cursor.
                    await _send_json(ws, message_frame(result.customer_message))
            except Exception:
                _LOGGER.exception("web.turn_failed conversation=%s", conversation_id)
                await _send_json(ws, error_frame("internal_error", self._texts.dialogue_unavailable))
            finally:
                await _send_json(ws, {"type": "typing", "on": False})
