"""Conversation messages as every layer sees them (stored, relayed, sent to a channel)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Button:
    """A quick-reply button: the title shown, the payload sent back."""

    title: str
    payload: str

    def to_json(self) -> dict[str, str]:
        """Public JSON shape of a button (direct API, WebSocket protocol)."""
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored; ``cursor`` orders a conversation's messages."""

    cursor: int
    conversation_id: str
    sender: str
    text: str
    buttons: tuple[Button, ...]
    client_id: str | None
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """Public JSON shape, shared by the direct API and the WebSocket protocol."""
        data: dict[str, Any] = {
            "cursor": self.cursor,
            "sender": self.sender,
            "text": self.text,
            "buttons": [b.to_json() for b in self.buttons],
            "created_at": self.created_at.replace(tzinfo=dt.timezone.utc).isoformat(),
        }
        if self.client_id is not None:
            data["client_id"] = self.client_id
        return data


@dataclass(frozen=True)
class HandoffRef:
    """The public view of a handoff: id and status."""

    id: int
    status: str
