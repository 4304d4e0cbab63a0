"""How the simulation reaches the running gateway: the direct API, the widget's WebSocket, the agent API.

Each is a thin client of the public protocol (docs/api.md, docs/websocket-protocol.md): a
customer's chat answers every message with a :class:`Reply`; the agent desk claims, replies
and resolves. A gateway that cannot be reached raises :class:`StackUnavailable` (the run
stops); any other refusal raises :class:`SimulationError` (that conversation fails).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

#: Attempts of a request the gateway refused for now (429 rate limited, 503 briefly unavailable).
RETRIES = 6
#: Seconds a widget turn or a delayed direct turn may take before the conversation fails.
TURN_TIMEOUT_S = 90.0


class SimulationError(Exception):
    """The gateway refused a request of one conversation (that conversation fails, the run goes on)."""


class StackUnavailable(SimulationError):
    """No gateway answers at the URL, or it is not ready (the run stops)."""


@dataclass(frozen=True)
class Reply:
    """What the customer saw after one message: the texts, the buttons (title, payload), an open handoff."""

    texts: tuple[str, ...] = ()
    buttons: tuple[tuple[str, str], ...] = ()
    handoff_id: int | None = None

    @classmethod
    def from_messages(cls, messages: list[dict[str, Any]], handoff: dict[str, Any] | None = None) -> Reply:
        """A reply from stored messages as the API shapes them (``text``, ``buttons``)."""
        return cls(
            texts=tuple(str(m["text"]) for m in messages if m.get("text")),
            buttons=tuple((str(b["title"]), str(b["payload"])) for m in messages for b in m.get("buttons") or []),
            handoff_id=int(handoff["id"]) if handoff else None,
        )

    def button(self, wanted: Callable[[str], bool]) -> tuple[str, str] | None:
        """The first button whose payload ``wanted`` accepts, or None."""
        return next((b for b in self.buttons if wanted(b[1])), None)


class CustomerChat(Protocol):
    """One customer's conversation on a channel."""

    channel: str
    conversation_id: str

    async def say(self, text: str) -> Reply:
        """Type ``text``; what the bot answered."""

    async def tap(self, button: tuple[str, str]) -> Reply:
        """Press a button (title, payload); what the bot answered."""


class Gateway:
    """HTTP calls to one gateway, retried while it says "not now" (429, 503)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, api_token: str) -> None:
        """Reach the gateway at ``url``; ``api_token`` is its direct-API token (``BOT_API_TOKEN``)."""
        self.session, self.url, self._api_token = session, url.rstrip("/"), api_token

    async def ready(self) -> None:
        """Check that the gateway answers and its Rasa, action server and database are up.

        Raises:
            StackUnavailable: Nothing answers, or ``/readyz`` says what is down.
        """
        status, body = await self.request("GET", "/readyz", token=None, allowed=(200, 503))
        if status == 503:
            checks = body.get("checks", {}) if isinstance(body, dict) else {}
            down = ", ".join(name for name, ok in sorted(checks.items()) if not ok) or "something"
            raise StackUnavailable(f"the stack at {self.url} is not ready ({down} down); wait, or see var/logs/")

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        body: dict[str, Any] | None = None,
        allowed: tuple[int, ...] = (200,),
    ) -> tuple[int, Any]:
        """Send a request; (status, JSON body) for an ``allowed`` status.

        Raises:
            StackUnavailable: The gateway cannot be reached.
            SimulationError: Any other status, or still 429/503 after the retries.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.session.request(method, self.url + path, json=body, headers=headers) as response:
                    if response.status in allowed:
                        return response.status, await response.json(content_type=None)
                    text = await response.text()
                    retry_after = response.headers.get("Retry-After", "1")
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
                raise StackUnavailable(
                    f"no gateway answers at {self.url} ({type(exc).__name__}); start the bot with `make run`, "
                    "or pass the gateway's --url"
                ) from exc
            if response.status in (429, 503) and attempt < RETRIES:
                await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, 10.0))
                continue
            if response.status == 401 and path.startswith("/api/v1/messages"):
                raise StackUnavailable(f"the gateway at {self.url} refused the API token (is BOT_API_TOKEN the same?)")
            raise SimulationError(f"{method} {path}: {response.status} {text[:200]}")

    async def send(self, conversation_id: str, text: str, customer_token: str | None) -> Reply:
        """One direct-API message (``POST /api/v1/messages``) and the bot's answer."""
        body: dict[str, Any] = {"conversation_id": conversation_id, "text": text, "client_id": uuid.uuid4().hex}
        if customer_token is not None:
            body["customer_token"] = customer_token
        status, answer = await self.request(
            "POST", "/api/v1/messages", token=self._api_token, body=body, allowed=(200, 202)
        )
        if status == 202:  # the turn outlived the gateway's wait: its replies come by cursor
            return await self._late_replies(conversation_id, answer.get("handoff"))
        return Reply.from_messages(answer["replies"], answer.get("handoff"))

    async def _late_replies(self, conversation_id: str, handoff: dict[str, Any] | None) -> Reply:
        """The replies after the conversation's last customer message, once some arrived."""
        path = f"/api/v1/conversations/{conversation_id}/messages"
        deadline = asyncio.get_running_loop().time() + TURN_TIMEOUT_S
        while asyncio.get_running_loop().time() < deadline:
            _, body = await self.request("GET", path, token=self._api_token)
            messages = body["messages"]
            last = max((i for i, m in enumerate(messages) if m["sender"] == "customer"), default=-1)
            if messages[last + 1 :]:
                return Reply.from_messages(messages[last + 1 :], handoff)
            await asyncio.sleep(1.0)
        raise SimulationError(f"no reply within {TURN_TIMEOUT_S:.0f} s")


class DirectChat:
    """A customer on the direct API (channel ``direct``), verified when a signed token is given."""

    channel = "direct"

    def __init__(self, gateway: Gateway, conversation_id: str, customer_token: str | None = None) -> None:
        """A conversation ``conversation_id`` (new ids start a conversation)."""
        self._gateway, self.conversation_id, self._token = gateway, conversation_id, customer_token

    async def say(self, text: str) -> Reply:
        """Send ``text``."""
        return await self._gateway.send(self.conversation_id, text, self._token)

    async def tap(self, button: tuple[str, str]) -> Reply:
        """A button is sent as its payload on the direct API."""
        return await self._gateway.send(self.conversation_id, button[1], self._token)


class WidgetChat:
    """A customer in the web widget (channel ``web``): the widget's WebSocket protocol, one tab."""

    channel = "web"

    def __init__(self, gateway: Gateway, customer_token: str | None = None) -> None:
        """Open with :meth:`connect`; the gateway names the conversation."""
        self._gateway, self._token = gateway, customer_token
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.conversation_id = ""

    async def connect(self) -> None:
        """Open the socket and say hello as a first visit.

        Raises:
            StackUnavailable: The gateway cannot be reached.
            SimulationError: The gateway refused the connection or the hello.
        """
        url = self._gateway.url.replace("http", "ws", 1) + "/ws"
        try:
            self._ws = await self._gateway.session.ws_connect(url, heartbeat=None)
        except aiohttp.WSServerHandshakeError as exc:
            raise SimulationError(f"widget connection refused: {exc.status}") from exc
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            raise StackUnavailable(f"no gateway answers at {url} ({type(exc).__name__})") from exc
        hello: dict[str, Any] = {"type": "hello", "conversation_id": None, "after": None}
        if self._token is not None:
            hello["customer_token"] = self._token
        await self._ws.send_json(hello)
        welcome = await self._frame()
        if welcome.get("type") != "welcome":
            raise SimulationError(f"widget: expected welcome, got {welcome.get('type')!r}")
        self.conversation_id = str(welcome["conversation_id"])

    async def close(self) -> None:
        """Close the tab."""
        if self._ws is not None:
            await self._ws.close()

    async def say(self, text: str) -> Reply:
        """Type ``text``."""
        return await self._send({"type": "message", "text": text})

    async def tap(self, button: tuple[str, str]) -> Reply:
        """Click a button: its title as the text, its payload alongside."""
        return await self._send({"type": "message", "text": button[0], "payload": button[1]})

    async def _send(self, frame: dict[str, Any]) -> Reply:
        """Send a message; collect what arrives until its turn ends ("typing" off after its echo)."""
        if self._ws is None:
            raise SimulationError("widget: not connected")
        client_id = uuid.uuid4().hex
        await self._ws.send_json({**frame, "client_id": client_id})
        echoed, messages = False, []
        while True:
            got = await self._frame()
            kind = got.get("type")
            if kind == "message" and got.get("client_id") == client_id:
                echoed = True
            elif kind == "message" and echoed and got.get("sender") in ("bot", "agent", "system"):
                messages.append(got)
            elif kind == "typing" and got.get("on") is False and echoed:
                return Reply.from_messages(messages)
            elif kind == "error":
                raise SimulationError(f"widget error {got.get('code')}")

    async def _frame(self) -> dict[str, Any]:
        assert self._ws is not None
        try:
            message = await self._ws.receive(timeout=TURN_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise SimulationError(f"widget: nothing within {TURN_TIMEOUT_S:.0f} s") from None
        if message.type != aiohttp.WSMsgType.TEXT:
            raise SimulationError(f"widget connection closed ({message.type.name})")
        data = message.json()
        return data if isinstance(data, dict) else {}
