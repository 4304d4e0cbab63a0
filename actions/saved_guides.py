"""A verified customer's paused guides on every channel: read before a guide's turn, written after it.

The logic is :mod:`bot.diagnostics.saved`; this module only finds the customer and the
conversation. The customer is the one the gateway signed into this turn's token (by a customer
token or a linked chat), without a database lookup, so an anonymous customer's guide turns
never touch the database. (A chat linked by a code during this very turn is found only from the
next message on; a guide's turn is never the one that links.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from rasa_sdk import Tracker

from actions import services
from actions.context import channel_name, vouched
from bot.diagnostics.saved import changes, with_saved
from bot.diagnostics.state import State


def guide_owner(tracker: Tracker) -> str | None:
    """The verified customer of this turn, as the gateway signed it (``None``: anonymous)."""
    turn = vouched(tracker)
    return turn.customer_id if turn is not None else None


async def offered_guides(
    tracker: Tracker, active: Mapping[str, Any] | None, paused: Sequence[Mapping[str, Any]]
) -> list[State]:
    """The conversation's paused guides, with those the verified customer left on other channels."""
    customer_id = guide_owner(tracker)
    if customer_id is None:
        return [dict(item) for item in paused]
    saved = await asyncio.to_thread(services.saved_guides().paused, customer_id, services.guides())
    return with_saved(active, paused, saved)


async def remember(
    tracker: Tracker,
    offered: Sequence[Mapping[str, Any]],
    active_before: Mapping[str, Any] | None,
    active_after: Mapping[str, Any] | None,
    paused_after: Sequence[Mapping[str, Any]],
) -> None:
    """Save the guides a verified customer's turn left paused; forget those resumed or ended."""
    customer_id = guide_owner(tracker)
    if customer_id is None:
        return
    change = changes(offered, active_before, active_after, paused_after)
    if change.empty:
        return
    await asyncio.to_thread(
        services.saved_guides().apply,
        customer_id,
        change,
        channel=channel_name(tracker),
        conversation_id=tracker.sender_id,
    )
