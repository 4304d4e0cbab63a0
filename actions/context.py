"""Who the customer is, as the gateway said: read from the latest message's metadata only.

Identity never comes from slots, entities or message text. A chat linked by an emailed
code during this very turn is found through its channel identity (the channel and sender
the gateway reported), the same lookup the gateway makes for the next message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker

from actions import services


def metadata(tracker: Tracker) -> dict[str, Any]:
    """The gateway's metadata of the latest customer message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            value = event.get("metadata") or {}
            return value if isinstance(value, dict) else {}
    return {}


def channel_identity(tracker: Tracker) -> tuple[str, str]:
    """(channel, sender on the channel) of the latest message, as the gateway reported them."""
    data = metadata(tracker)
    channel = str(data.get("channel") or tracker.get_latest_input_channel() or "unknown")
    return channel, str(data.get("channel_user") or tracker.sender_id)


async def verified_customer(tracker: Tracker) -> str | None:
    """The verified customer id, or ``None`` for an anonymous customer."""
    customer_id = metadata(tracker).get("customer_id")
    if isinstance(customer_id, str) and customer_id:
        return customer_id
    channel, user = channel_identity(tracker)
    return await asyncio.to_thread(services.linking().linked_customer, channel, user)
