"""The web widget channel: one WebSocket per browser tab, resumable by cursor and by the chat's own secret.

A customer's message is stored in the durable inbox before anything else happens; the inbox
worker runs its turn (:meth:`WebChannel.process`) whatever becomes of the socket, and the
replies reach every open tab of the conversation through the hub, or the next connection by
its cursor. A chat is resumed only with the secret handed out in its first ``welcome`` (or a
customer token of the chat's verified customer). Protocol: docs/websocket-protocol.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.inbox import Inbox, InboxEvent
from bot.channels.turns import customer_message, event_body
from bot.channels.web_protocol import (
    FollowUp,
    FrameError,
    Hello,
    Outgoing,
    Ping,
    error_frame,
    message_frame,
    parse_frame,
)
from bot.conversations.hub import ConversationHub, Delivery, Typing
from bot.conversations.identity import ANONYMOUS, Identity, IdentityResolver
from bot.conversations.service import ConversationService
from bot.conversations.store import ConversationStore
from bot.core.logs import log_id
from bot.core.ratelimit import RateLimiter, client_key
from bot.notifications.follow_up import FollowUps
from bot.settings import Limits
from bot.texts import Texts

_LOGGER = logging.getLogger(__name__)

PATH = "/ws"
PLATFORM = "web"
RATE_LIMIT_MESSAGES = 20
RATE_LIMIT_WINDOW_S = 10.0
REPLAY_PAGE = 500
#: Seconds a new connection has to send its ``hello``.
HELLO_TIMEOUT_S = 10.0
#: Seconds between the server's WebSocket pings (a dead socket then fails to write and ends).
PING_INTERVAL_S = 30.0
#: Close codes: 1008 policy violation (bad hello), 1001 going away (idle), 1013 try again later (full).
CLOSE_BAD_HELLO, CLOSE_IDLE, CLOSE_FULL = 1008, 1001, 1013


async def _send_json(ws: web.WebSocketResponse, frame: dict[str, object]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(frame)


async def _forward(ws: web.WebSocketResponse, queue: asyncio.Queue[Delivery], sent: set[int]) -> None:
    """Send what the hub delivers for this conversation: each message once, typing notices as they come."""
    while True:
        item = await queue.get()
        if item is None:
            await ws.close()
            return
        if isinstance(item, Typing):
            await _send_json(ws, {"type": "typing", "on": item.on})
            continue
        if item.cursor in sent:
            continue
        sent.add(item.cursor)
        await _send_json(ws, message_frame(item))


async def _keepalive(ws: web.WebSocketResponse) -> None:
    """Ping the browser now and then; a socket that cannot be written any more ends quietly."""
    while not ws.closed:
        await asyncio.sleep(PING_INTERVAL_S)
        try:
            await ws.ping()
        except (ConnectionError, RuntimeError):
            return


class WebChannel:
    """The widget's WebSocket endpoint (``GET /ws``) and the processor of its stored messages."""

    def __init__(
        self,
        *,
        conversations: ConversationService,
        store: ConversationStore,
        hub: ConversationHub,
        inbox: Inbox,
        identity: IdentityResolver | None,
        texts: Texts,
        limits: Limits,
        allowed_origins: tuple[str, ...],
        wake_inbox: Callable[[], None],
        trust_forwarded_for: bool = False,
        on_refused: Callable[[str], None] | None = None,
        run_now: Callable[[InboxEvent], asyncio.Task[None] | None] | None = None,
        follow_ups: FollowUps | None = None,
    ) -> None:
        """Compose the channel from the gateway's services (``allowed_origins``: ``("*",)`` allows any).

        ``on_refused`` is told of each connection or message refused by a limit, with which limit
        (``connections`` or ``messages``): the gateway's metrics count them. ``run_now`` starts the
        turn of a message stored already claimed, at once (the inbox worker's ``run_now``); without
        it, or when it declines, the worker is woken. ``follow_ups`` keeps the email address a
        customer gives for an agent's answer that comes after they left (``follow_up`` frames).
        """
        self._conversations = conversations
        self._store = store
        self._hub = hub
        self._inbox = inbox
        self._identity = identity
        self._texts = texts
        self._limits = limits
        self._allowed_origins = allowed_origins
        self._trust_forwarded_for = trust_forwarded_for
        self._wake_inbox = wake_inbox
        self._start_turn = run_now
        self._on_refused = on_refused
        self._follow_ups = follow_ups
        self._connections: Counter[str] = Counter()

    @property
    def open_connections(self) -> int:
        """Widget connections open right now on this replica."""
        return sum(self._connections.values())

    def _refused(self, limit: str) -> None:
        if self._on_refused is not None:
            self._on_refused(limit)

    # -- the socket ---------------------------------------------------------------------------

    def _origin_allowed(self, request: web.Request) -> bool:
        """The page that opens the socket is the gateway's own, or on a site of ``BOT_ALLOWED_ORIGINS``."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: the browser-side protection Origin gives does not apply
        origin = origin.rstrip("/")
        if "*" in self._allowed_origins or origin in self._allowed_origins:
            return True
        return urlsplit(origin).netloc.lower() == request.host.lower()

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Serve one widget connection."""
        if not self._origin_allowed(request):
            _LOGGER.warning("web.origin_refused")
            return web.json_response(
                {"error": {"code": "origin_not_allowed", "message": "Origin not allowed."}}, status=403
            )
        client = client_key(request.headers, request.remote, trust_forwarded_for=self._trust_forwarded_for)
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=64 * 1024)
        await ws.prepare(request)
        if self._connections[client] >= self._limits.ws_max_per_client or (
            self.open_connections >= self._limits.ws_max_connections
        ):
            self._refused("connections")
            await _send_json(ws, error_frame("too_many_connections", self._texts.rate_limited))
            await ws.close(code=CLOSE_FULL, message=b"too many connections")
            return ws
        self._connections[client] += 1
        try:
            await self._serve(ws)
        finally:
            self._connections[client] -= 1
            if self._connections[client] <= 0:
                del self._connections[client]
        return ws

    async def _serve(self, ws: web.WebSocketResponse) -> None:
        picked = await self._hello(ws)
        if picked is None:
            return
        conversation_id, after, customer_token = picked
        queue = self._hub.subscribe(conversation_id)
        sent: set[int] = set()
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._replay(ws, conversation_id, after, sent)
            tasks.append(asyncio.create_task(_forward(ws, queue, sent)))
            tasks.append(asyncio.create_task(_keepalive(ws)))
            await self._receive(ws, conversation_id, customer_token)
        finally:
            self._hub.unsubscribe(conversation_id, queue)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _hello(self, ws: web.WebSocketResponse) -> tuple[str, int, str | None] | None:
        """Wait for the hello frame; resume its chat if it may, else start a new one; welcome the tab."""
        try:
            first = await ws.receive(timeout=HELLO_TIMEOUT_S)
        except asyncio.TimeoutError:
            await ws.close(code=CLOSE_BAD_HELLO, message=b"hello expected")
            return None
        if first.type != WSMsgType.TEXT:
            await ws.close(code=CLOSE_BAD_HELLO, message=b"hello expected")
            return None
        try:
            frame = parse_frame(first.data, self._limits.max_message_chars)
            if not isinstance(frame, Hello):
                raise FrameError("bad_frame", "the first frame must be hello")
        except FrameError as exc:
            await _send_json(ws, error_frame(exc.code, self._texts.bad_frame))
            await ws.close(code=CLOSE_BAD_HELLO, message=b"bad hello")
            return None
        try:
            conversation_id, after, secret = await self._pick_conversation(frame)
        except SQLAlchemyError:
            _LOGGER.exception("web.database_unavailable")
            await _send_json(ws, error_frame("unavailable", self._texts.dialogue_unavailable))
            await ws.close(code=CLOSE_FULL, message=b"try again later")
            return None
        welcome: dict[str, object] = {"type": "welcome", "conversation_id": conversation_id}
        if secret is not None:
            welcome["resume_secret"] = secret  # once, to this tab; never logged
        await _send_json(ws, welcome)
        # The token is checked on every message (it may expire during the connection), never logged.
        return conversation_id, after, frame.customer_token

    async def _pick_conversation(self, frame: Hello) -> tuple[str, int, str | None]:
        """(conversation, replay from, the new chat's secret or None when resumed)."""
        if frame.conversation_id is not None:
            identity = await self._identify(frame.conversation_id, frame.customer_token)
            if await self._store.may_resume(frame.conversation_id, frame.resume_secret, identity.customer_id):
                return frame.conversation_id, frame.after, None
            _LOGGER.info("web.resume_refused conversation=%s", log_id(frame.conversation_id))
        # Unknown or unproven ids are never adopted: the server issues an unguessable one.
        conversation_id = f"web-{uuid.uuid4().hex}"
        secret = await self._store.start_web_chat(conversation_id)
        return conversation_id, 0, secret

    async def _identify(self, conversation_id: str, customer_token: str | None) -> Identity:
        """Who writes in this chat: a valid customer token's customer, or the customer the chat was linked to."""
        if self._identity is None:
            return ANONYMOUS
        return await self._identity.resolve(PLATFORM, conversation_id, customer_token)

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

    async def _receive(self, ws: web.WebSocketResponse, conversation_id: str, customer_token: str | None) -> None:
        """Read frames until the tab goes or falls silent: pings answered, messages stored, bad frames refused."""
        limiter = RateLimiter(RATE_LIMIT_MESSAGES / RATE_LIMIT_WINDOW_S, RATE_LIMIT_MESSAGES)
        max_chars = self._limits.max_message_chars
        while True:
            try:
                raw = await ws.receive(timeout=self._limits.ws_idle_timeout_s)
            except asyncio.TimeoutError:
                await ws.close(code=CLOSE_IDLE, message=b"idle")
                return
            if raw.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return
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
                if limiter.take():
                    self._refused("messages")
                    await _send_json(ws, error_frame("rate_limited", self._texts.rate_limited, frame.client_id))
                    continue
                await self._accept(ws, conversation_id, frame, customer_token)
            elif isinstance(frame, FollowUp):
                if limiter.take():
                    self._refused("messages")
                    await _send_json(ws, error_frame("rate_limited", self._texts.rate_limited))
                    continue
                await self._follow_up(ws, conversation_id, frame)

    async def _follow_up(self, ws: web.WebSocketResponse, conversation_id: str, frame: FollowUp) -> None:
        """Keep (or forget) the chat's follow-up address; answer whether it was kept."""
        if self._follow_ups is None:
            await _send_json(ws, {"type": "follow_up", "saved": False})
            return
        try:
            if frame.email is None:
                await self._follow_ups.forget(conversation_id)
                saved = False
            else:
                saved = await self._follow_ups.remember(conversation_id, frame.email)
        except SQLAlchemyError:
            _LOGGER.exception("web.follow_up_failed conversation=%s", log_id(conversation_id))
            await _send_json(ws, error_frame("unavailable", self._texts.dialogue_unavailable))
            return
        _LOGGER.info("web.follow_up conversation=%s saved=%s", log_id(conversation_id), saved)
        await _send_json(ws, {"type": "follow_up", "saved": saved})

    async def _accept(
        self, ws: web.WebSocketResponse, conversation_id: str, frame: Outgoing, customer_token: str | None
    ) -> None:
        """Store the message in the inbox (once per client id); its echo and replies come through the hub."""
        try:
            identity = await self._identify(conversation_id, customer_token)
            body = event_body(frame.text, frame.payload, frame.client_id, identity, frame.language)
            stored, new = await self._inbox.accept_or_find(
                PLATFORM,
                f"{conversation_id}:{frame.client_id}",
                conversation_id,
                body,
                lease=self._start_turn is not None,
            )
            if new:
                if stored is None or self._start_turn is None or self._start_turn(stored) is None:
                    self._wake_inbox()
                return
            # A re-sent message (after a reconnect): confirm it again if its turn stored it already;
            # otherwise its echo is on the way.
            earlier = await self._store.find_client_id(conversation_id, frame.client_id)
        except SQLAlchemyError:
            _LOGGER.exception("web.store_failed conversation=%s", log_id(conversation_id))
            await _send_json(ws, error_frame("unavailable", self._texts.dialogue_unavailable, frame.client_id))
            return
        if earlier is not None:
            await _send_json(ws, message_frame(earlier))

    # -- the inbox worker's side ------------------------------------------------------------

    async def process(self, event: InboxEvent) -> bool:
        """Run the turn of a stored widget message; the tabs see "typing" meanwhile (``True``: it closed the event)."""
        message, turn = customer_message(event, PLATFORM)
        self._hub.publish_typing(event.conversation_id, True)
        try:
            await self._conversations.handle(message, turn)
        finally:
            self._hub.publish_typing(event.conversation_id, False)
        return True  # the turn closed the event with its replies
