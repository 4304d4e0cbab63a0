"""Pure translation of the web widget's WebSocket frames (see docs/websocket-protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core import jsonsafe
from bot.core.messages import StoredMessage
from bot.core.text import clean_text, is_client_id, is_conversation_id
from bot.handoff.language import language_code


class FrameError(ValueError):
    """A frame the server cannot accept; ``code`` is sent back in an error frame."""

    def __init__(self, code: str, message: str, client_id: str | None = None) -> None:
        """Create an error with a stable ``code`` (and the refused message's ``client_id``)."""
        super().__init__(message)
        self.code = code
        self.client_id = client_id


#: Cursors are database row ids (a signed 64-bit integer at most).
MAX_CURSOR = 2**63 - 1
#: Longest ``resume_secret`` accepted (the server issues 43 characters).
MAX_SECRET = 128
#: Largest frame the server reads (the WebSocket itself refuses bigger ones).
MAX_FRAME_BYTES = 64 * 1024


@dataclass(frozen=True)
class Hello:
    """First frame of a connection: which conversation to resume, from which cursor, with which key."""

    conversation_id: str | None
    after: int
    customer_token: str | None
    resume_secret: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """A customer's message (typed text or a clicked button)."""

    text: str
    payload: str | None
    client_id: str
    language: str | None = None  # the browser's language (``de``), for routing a handoff


@dataclass(frozen=True)
class FollowUp:
    """The customer's email address for an agent's answer that comes after they left (``None``: withdrawn)."""

    email: str | None


#: Longest email address accepted in a ``follow_up`` frame.
MAX_EMAIL = 320


@dataclass(frozen=True)
class Ping:
    """Keep-alive from the client."""


@dataclass(frozen=True)
class Pong:
    """Answer to the server's keep-alive."""


Frame = Hello | Outgoing | FollowUp | Ping | Pong


def parse_frame(raw: str, max_chars: int) -> Frame:
    """Parse one client frame.

    Raises:
        FrameError: malformed JSON, unknown type, bad fields, or text over ``max_chars``.
    """
    try:
        data: Any = jsonsafe.loads(raw, max_bytes=MAX_FRAME_BYTES)
    except jsonsafe.UnsafeJson as exc:
        refused = exc.parsed.get("client_id") if isinstance(exc.parsed, dict) else None
        raise FrameError("bad_frame", f"frame refused: {exc}", refused if is_client_id(refused) else None) from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "frame must be a JSON object")
    kind = data.get("type")
    if kind == "ping":
        return Ping()
    if kind == "pong":
        return Pong()
    if kind == "hello":
        return _hello(data)
    if kind == "message":
        text = data.get("text")
        payload = data.get("payload")
        client_id = data.get("client_id")
        known_id = str(client_id) if is_client_id(client_id) else None
        if not isinstance(text, str) or known_id is None:
            raise FrameError("bad_frame", "message needs a text and a client_id", known_id)
        if payload is not None and (not isinstance(payload, str) or len(payload) > 1000):
            raise FrameError("bad_frame", "payload must be a short string", known_id)
        text = clean_text(text) or clean_text(payload or "")  # a button press may carry its payload only
        if not text:
            raise FrameError("bad_frame", "message is empty", known_id)
        if len(text) > max_chars:
            raise FrameError("too_long", f"message is longer than {max_chars} characters", known_id)
        # The browser's language: a malformed tag is ignored (it only helps routing).
        language = language_code(data.get("language"))
        return Outgoing(text=text, payload=payload or None, client_id=str(client_id), language=language)
    if kind == "follow_up":
        return _follow_up(data)
    raise FrameError("bad_frame", "unknown frame type")


def _follow_up(data: dict[str, Any]) -> FollowUp:
    """``{"consent": true, "email": "..."}`` keeps the address, ``{"consent": false}`` withdraws it."""
    consent = data.get("consent")
    if consent is False:
        return FollowUp(None)
    email = data.get("email")
    if consent is not True or not isinstance(email, str) or not 0 < len(email.strip()) <= MAX_EMAIL:
        raise FrameError("bad_frame", "follow_up needs consent true and an email, or consent false")
    return FollowUp(email.strip())


def _hello(data: dict[str, Any]) -> Hello:
    """A ``hello``; any field of the wrong type or shape makes it a bad frame (the server then closes)."""
    conversation_id = data.get("conversation_id")
    if conversation_id is not None and not is_conversation_id(conversation_id):
        raise FrameError("bad_frame", "conversation_id must be null or an id the server issued")
    after = data.get("after")
    if after is None:
        after = 0
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_CURSOR:
        raise FrameError("bad_frame", "after must be null or a cursor (an integer of 0 or more)")
    token = data.get("customer_token")
    if token is not None and not isinstance(token, str):
        raise FrameError("bad_frame", "customer_token must be a string")
    secret = data.get("resume_secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) > MAX_SECRET):
        raise FrameError("bad_frame", "resume_secret must be the string the server issued")
    return Hello(conversation_id, after, token or None, secret or None)


def message_frame(message: StoredMessage) -> dict[str, Any]:
    """A stored message as a ``message`` frame."""
    return {"type": "message", **message.to_json()}


def error_frame(code: str, message: str, client_id: str | None = None) -> dict[str, Any]:
    """An ``error`` frame with a stable code, a customer-facing message and the refused ``client_id``."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame
