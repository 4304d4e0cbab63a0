"""Client for the Rasa server's REST channel and status API (no Rasa import)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.core.messages import Button

_LOGGER = logging.getLogger(__name__)


class DialogueUnavailable(Exception):
    """The Rasa server could not be reached or answered with an error."""


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
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in item.get("buttons") or []
            if isinstance(b, dict) and b.get("title")
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


class RasaClient:
    """Talks to ``rasa run --enable-api`` on an internal address with its auth token."""

    def __init__(self, *, session: aiohttp.ClientSession, base_url: str, token: str, timeout_s: float) -> None:
        """Use ``session`` (owned by the caller) for every request."""
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST JSON to the Rasa server; return the decoded answer.

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        try:
            async with self._session.post(
                f"{self._base_url}{path}", json=dict(body), params={"token": self._token}, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    _LOGGER.warning("dialogue.error status=%d", response.status)
                    raise DialogueUnavailable(f"dialogue server answered HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            _LOGGER.warning("dialogue.unreachable error=%s", type(exc).__name__)
            raise DialogueUnavailable("dialogue server unreachable") from exc

    async def send(self, sender_id: str, text: str, metadata: Mapping[str, Any]) -> list[BotReply]:
        """Send one customer message and return the bot's replies.

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        body = {"sender": sender_id, "message": text, "metadata": dict(metadata)}
        return replies_from_rasa(await self._post("/webhooks/rest/webhook", body))

    async def trigger_intent(self, sender_id: str, intent: str) -> list[BotReply]:
        """Make the bot act as if the customer had expressed ``intent`` (e.g. an agent handed back).

        Raises:
            DialogueUnavailable: Rasa is down, timed out or answered with an error.
        """
        path = f"/conversations/{quote(sender_id, safe='')}/trigger_intent"
        payload = await self._post(path, {"name": intent, "entities": {}})
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
        try:
            async with self._session.get(
                f"{self._base_url}{path}",
                params={"token": self._token, "include_events": "ALL"},
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    raise DialogueUnavailable(f"dialogue server answered HTTP {response.status}")
                tracker = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise DialogueUnavailable("dialogue server unreachable") from exc
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
