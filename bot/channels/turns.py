"""The gateway's own channels (web widget, direct API) as inbox events: what is stored, and the turn it becomes.

A message is accepted with the identity the channel verified at that moment (a customer token is
checked once, on arrival, and never stored); the stored body is everything the inbox worker
needs to run the turn later, on any replica.
"""

from __future__ import annotations

from typing import Any

from bot.channels.inbox import InboxEvent
from bot.conversations.identity import Identity
from bot.conversations.service import CustomerMessage, InboxTurn


def event_body(
    text: str, payload: str | None, client_id: str, identity: Identity, language: str | None = None
) -> dict[str, Any]:
    """The inbox body of an accepted message (``language``: the customer's, when their client says)."""
    return {
        "language": language,
        "text": text,
        "payload": payload,
        "client_id": client_id,
        "customer_id": identity.customer_id,
        "verified_by": identity.verified_by,
    }


def customer_message(event: InboxEvent, channel: str) -> tuple[CustomerMessage, InboxTurn]:
    """The customer turn of a stored message, and the inbox item it moves along."""
    body = event.body
    customer_id = body.get("customer_id")
    verified_by = body.get("verified_by")
    message = CustomerMessage(
        conversation_id=event.conversation_id,
        channel=channel,
        text=str(body.get("text") or ""),
        payload=body.get("payload") if isinstance(body.get("payload"), str) else None,
        client_id=str(body.get("client_id") or event.external_id)[:64],
        language=body.get("language") if isinstance(body.get("language"), str) else None,
        identity=Identity(
            customer_id if isinstance(customer_id, str) else None,
            verified_by if isinstance(verified_by, str) else None,
        ),
    )
    return message, InboxTurn(event.id, event.state)
