"""Pure translation of the web widget's WebSocket frames (see docs/websocket-protocol.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.core.messages import StoredMessage
from bot.core.text import clean_text, is_client_id, is_conversation_id


class FrameError(ValueError):
    """A frame the server cannot accept; ``code`` is sent back in an error frame."""

    def __init__(self, code: str, message: str, client_id: str | None = None) -> None:
        """Create an error with a stable ``code`` (and the refused message's ``client_id``)."""
        super().__init__(message)
        self.code = code
        self.client_id = client_id


@dataclass(frozen=True)
class Hello:
    """First frame of a connection: which conversation to resume, from which cursor."""

    conversation_id: str | None
    after: int
    customer_token: str | None


@dataclass(frozen=True)
class Outgoing:
    """A customer's message (typed text or a clicked button)."""

    text: str
    payload: str | None
    client_id: str


@dataclass(frozen=True)
class Ping:
    """Keep-alive from the client."""


@dataclass(frozen=True)
class Pong:
    """Answer to the server's keep-alive."""


Frame = Hello | Outgoing | Ping | Pong


def parse_frame(raw: str, max_chars: int) -> Frame:
    """Parse one client frame.

    Raises:
        FrameError: malformed JSON, unknown type, bad fields, or text over ``max_chars``.
    """
    try:
        data: Any = json.loads(raw)
    except ValueError:
        raise FrameError("bad_frame", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "frame must be a JSON object")
    kind = data.get("type")
    if kind == "ping":
        return Ping()
    if kind == "pong":
        return Pong()
    if kind == "hello":
        conversation_id = data.get("conversation_id")
        if conversation_id is not None and not is_conversation_id(conversation_id):
            conversation_id = None
        after = data.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            after = 0
        token = data.get("customer_token")
        return Hello(conversation_id, after, token if isinstance(token, str) and token else None)
    if kind == "message":
        text = data.get("text")
        payload = data.get("payload")
        client_id = data.get("client_id")
        known_id = str(client_id) if is_client_id(client_id) else None
        if not isinstance(text, str) or known_id is None:
            raise FrameError("bad_frame", "message needs a text and a client_id", known_id)
        if payload is not None and (not isinstance(payload, str) or len(payload) > 1000):
            raise FrameError("bad_frame", "payload must be a short string", known_id)
        text = clean_text(text)
        if not text and not payload:
            raise FrameError("bad_frame", "message is empty", known_id)
        if len(text) > max_chars:
            raise FrameError("too_long", f"message is longer than {max_chars} characters", known_id)
        return Outgoing(text=text or str(payload), payload=payload or None, client_id=str(client_id))
    raise FrameError("bad_frame", "unknown frame type")


def message_frame(message: StoredMessage) -> dict[str, Any]:
    """A stored message as a ``message`` frame."""
    return {"type": "message", **message.to_json()}


def error_frame(code: str, message: str, client_id: str | None = None) -> dict[str, Any]:
    """An ``error`` frame with a stable code, a customer-facing message and the refused ``client_id``."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame
