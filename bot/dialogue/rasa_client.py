"""Client for the Rasa server's customer channel and HTTP API (no Rasa import)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.core.messages import Button
from bot.dialogue.signing import signed_headers

_LOGGER = logging.getLogger(__name__)

#: The customer channel (``rasa_components.gateway_channel.GatewayInput``); it checks a signature, not the token.
WEBHOOK_PATH = "/webhooks/gateway/webhook"
PARSE_PATH = "/model/parse"


class DialogueUnavailable(Exception):
    """The Rasa server could not be reached or answered with an error."""


@dataclass(frozen=True)
class DialogueCall:
    """One request to the Rasa server, as timed by :class:`RasaClient` (for the gateway's metrics).

    ``call``: ``message`` (the customer channel), ``parse``, ``trigger_intent`` or ``tracker``.
    ``error``: ``None`` when Rasa answered 200, else ``timeout``, ``unreachable``, ``http_error``
    (any other status) or ``bad_answer`` (not JSON).
    """

    call: str
    seconds: float
    error: str | None = None


#: Told of every timed request; must not raise (the client calls it outside its error handling).
DialogueCallObserver = Callable[[DialogueCall], None]


@dataclass(frozen=True)
class BotReply:
    """One message the dialogue model sends back."""

    text: str
    buttons: tuple[Button, ...] = ()


def replies_from_rasa(body: Any) -> list[BotReply]:
    """Translate the REST channel's JSON answer into replies (pure; unknown parts dropped)."""
    if not isinstance(body, list):
        raise DialogueUnavailable("unexpected answer from the dialogue server")
    replies: list[BotReply] = []
    for item in body:
        if not isinstance(item, dict):
            continue
        text = item.get("text")
        if not isinstance(text, str):
            text = ""
        if not text and isinstance(item.get("image"), str):
            text = item["image"]
        listed = item.get("buttons")
        buttons = tuple(
            Button(title=b["title"], payload=b.get("payload", ""))
            for b in (listed if isinstance(listed, list) else [])
            if isinstance(b, dict)
            and isinstance(b.get("title"), str)
            and b["title"]
            and isinstance(b.get("payload", ""), str)
        )
        if text or buttons:
            replies.append(BotReply(text=text, buttons=buttons))
    return replies


def replies_after_turn(events: Any, turn: str) -> list[BotReply] | None:
    """The bot utterances that followed the user message tagged ``turn`` (pure; ``None``: not found)."""
    if not isinstance(events, list):
        return None
    start = None
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("event") != "user":
            continue
        metadata = event.get("metadata")
        if isinstance(metadata, dict) and metadata.get("turn") == turn:
            start = index
    if start is None:
        return None
    uttered: list[dict[str, Any]] = []
    for event in events[start + 1 :]:
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            data = event.get("data")
            data = data if isinstance(data, dict) else {}
            uttered.append({"text": event.get("text"), "buttons": data.get("buttons"), "image": data.get("image")})
    return replies_from_rasa(uttered)


def _error_kind(exc: BaseException) -> str:
    """How a request to Rasa failed, as :attr:`DialogueCall.error` says it."""
    if isinstance(exc, asyncio.TimeoutError):  # before ClientError: aiohttp's ServerTimeoutError is both
        return "timeout"
    if isinstance(exc, aiohttp.ClientError):
        return "unreachable"
    return "bad_answer"


class RasaClient:
    """Talks to ``rasa run --enable-api``: its API with the auth token, its customer channel signed."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        channel_secret: str,
        timeout_s: float,
        on_call: DialogueCallObserver | None = None,
    ) -> None:
        """Use ``session`` (owned by the caller) for every request.

        Args:
            session: The HTTP client session.
            base_url: The Rasa server's base URL.
            token: ``BOT_RASA_TOKEN``, for Rasa's HTTP API (``--auth-token``).
            channel_secret: ``BOT_RASA_CHANNEL_SECRET``, which signs every customer message
                (bot/dialogue/signing.py).
            timeout_s: Per-request timeout.
            on_call: Told how long each request to Rasa took and how it ended (the gateway's
                metrics); the readiness probe's ``/status`` is not timed.

        Raises:
            ValueError: no channel secret (Rasa would refuse every message).
        """
        if not channel_secret:
            raise ValueError("the Rasa channel secret must not be empty")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._channel_secret = channel_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._on_call = on_call

    def _timed(self, call: str, started: float, error: str | None = None) -> None:
        """Report one request that began at ``started`` (``time.perf_counter()``) to ``on_call``."""
        if self._on_call is not None:
            self._on_call(DialogueCall(call, time.perf_counter() - started, error))

    async def _post(self, call: str, path: str, body: Mapping[str, Any], *, signed: bool = False) -> Any:
        """POST JSON to the Rasa server; return the decoded answer (timed as ``call``).

        ``signed``: a customer-channel request, vouched for by a signature over the exact
        body instead of the API token.

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        data = json.dumps(dict(body), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers.update(signed_headers(self._channel_secret, data))
        params = {} if signed else {"token": self._token}
        started = time.perf_counter()
        try:
            async with self._session.post(
                f"{self._base_url}{path}", data=data, headers=headers, params=params, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    _LOGGER.warning("dialogue.error status=%d", response.status)
                    self._timed(call, started, "http_error")
                    raise DialogueUnavailable(f"dialogue server answered HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            _LOGGER.warning("dialogue.unreachable error=%s", type(exc).__name__)
            self._timed(call, started, _error_kind(exc))
            raise DialogueUnavailable("dialogue server unreachable") from exc
        self._timed(call, started)
        return answer

    async def send(self, sender_id: str, text: str, metadata: Mapping[str, Any]) -> list[BotReply]:
        """Send one customer message and return the bot's replies.

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        body = {"sender": sender_id, "message": text, "metadata": dict(metadata)}
        return replies_from_rasa(await self._post("message", WEBHOOK_PATH, body, signed=True))

    async def parse(self, text: str) -> tuple[str, float]:
        """The model's intent and confidence for ``text`` (stateless: no conversation changes).

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        body = await self._post("parse", PARSE_PATH, {"text": text})
        intent = body.get("intent") if isinstance(body, dict) else None
        if not isinstance(intent, dict):
            raise DialogueUnavailable("the dialogue server sent no intent")
        return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)

    async def trigger_intent(self, sender_id: str, intent: str) -> list[BotReply]:
        """Make the bot act as if the customer had expressed ``intent`` (e.g. an agent handed back).

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        path = f"/conversations/{quote(sender_id, safe='')}/trigger_intent"
        payload = await self._post("trigger_intent", path, {"name": intent, "entities": {}})
        messages = payload.get("messages") if isinstance(payload, dict) else None
        return replies_from_rasa(messages or [])

    async def replies_of_turn(self, sender_id: str, turn: str) -> list[BotReply] | None:
        """The replies the model already gave to the message sent with metadata ``turn``.

        ``None`` when the conversation's tracker holds no such message (it never reached the
        model, or the model dropped it): the caller then sends it. Used after a crash, so a
        message is not processed twice.

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        path = f"/conversations/{quote(sender_id, safe='')}/tracker"
        started = time.perf_counter()
        try:
            async with self._session.get(
                f"{self._base_url}{path}",
                params={"token": self._token, "include_events": "ALL"},
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    self._timed("tracker", started, "http_error")
                    raise DialogueUnavailable(f"dialogue server answered HTTP {response.status}")
                tracker = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            self._timed("tracker", started, _error_kind(exc))
            raise DialogueUnavailable("dialogue server unreachable") from exc
        self._timed("tracker", started)
        return replies_after_turn(tracker.get("events") if isinstance(tracker, dict) else None, turn)

    async def is_ready(self) -> bool:
        """Whether the Rasa server answers and has a model loaded."""
        try:
            async with self._session.get(
                f"{self._base_url}/status",
                params={"token": self._token},
                timeout=aiohttp.ClientTimeout(total=3),
            ) as response:
                if response.status != 200:
                    return False
                status = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return False
        return isinstance(status, dict) and bool(status.get("model_file"))
