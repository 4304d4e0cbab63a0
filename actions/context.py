"""Who the customer is, as the gateway vouched: read from the latest message's signed turn token only.

The gateway signs a turn token (``bot/identity/turns.py``) into the metadata of every
message it sends: the verified customer (or none), the conversation, the channel and the
sender on it, and the turn. Identity never comes from slots, entities, message text or any
unsigned metadata: a token that is missing, forged, expired, or minted for another
conversation or turn makes the message anonymous, with no channel identity either (so it
cannot link, unlink or read a linked chat). A chat linked by an emailed code during this
very turn is found through the token's channel identity, the same lookup the gateway makes
for the next message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker

from actions import services
from bot.identity.turns import METADATA_KEY, TurnIdentity, verify_turn_token

#: The channel recorded (audit rows, handoffs) for a message without a valid turn token.
UNVERIFIED_CHANNEL = "unknown"


def metadata(tracker: Tracker) -> dict[str, Any]:
    """The metadata of the latest customer message, as it arrived (not trusted by itself)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            value = event.get("metadata") or {}
            return value if isinstance(value, dict) else {}
    return {}


def vouched(tracker: Tracker) -> TurnIdentity | None:
    """The identity the gateway signed for the latest customer message, or ``None`` when it does not verify."""
    data = metadata(tracker)
    return verify_turn_token(
        data.get(METADATA_KEY), services.turn_secret(), conversation_id=tracker.sender_id, turn=data.get("turn")
    )


def channel_identity(tracker: Tracker) -> tuple[str, str] | None:
    """(channel, sender on the channel) the gateway vouched for, or ``None`` for an unverified message."""
    turn = vouched(tracker)
    return (turn.channel, turn.channel_user) if turn is not None else None


def channel_name(tracker: Tracker) -> str:
    """The channel of the latest message for audit rows and handoffs (:data:`UNVERIFIED_CHANNEL` if unsigned)."""
    turn = vouched(tracker)
    return turn.channel if turn is not None else UNVERIFIED_CHANNEL


async def verified_customer(tracker: Tracker) -> str | None:
    """The verified customer id, or ``None`` for an anonymous customer (or an unverified message)."""
    turn = vouched(tracker)
    if turn is None:
        return None
    if turn.customer_id is not None:
        return turn.customer_id
    return await asyncio.to_thread(services.linking().linked_customer, turn.channel, turn.channel_user)
