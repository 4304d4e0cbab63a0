"""Outcome events from the actions (guides, self-service, CSAT of the bot): docs/analytics.md.

Recording never gets in the customer's way: a failure is logged and the turn goes on.

After the bot solved something on its own (a guide resolved, a self-service request done),
``action_ask_bot_csat`` asks for one tap from 1 to 5 — at most once per conversation (slot
``csat_asked``); otherwise it goes on with "anything else?". The score arrives as the
``csat`` intent, which ``action_store_csat`` (actions/handback.py) records.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.context import vouched
from bot.analytics.events import OutcomeEvent
from bot.core.logs import log_id

_LOGGER = logging.getLogger(__name__)
ASK_BOT_CSAT = "action_ask_bot_csat"
ANYTHING_ELSE = "utter_anything_else"
#: The 1-5 rating buttons. Sent by the actions, not written in domain.yml: Rasa fills a domain
#: response's ``{...}`` from the slots, so a payload's ``{"score": ...}`` failed there and Rasa
#: logged every slot value (order numbers, emails) with the error.
CSAT_BUTTONS = [{"title": str(n), "payload": f'/csat{{"score":"{n}"}}'} for n in range(1, 6)]


def event(
    tracker: Tracker, kind: str, topic: str | None = None, value: float | None = None, **attrs: Any
) -> OutcomeEvent:
    """An event of this conversation, with the channel and customer the gateway vouched for."""
    turn = vouched(tracker)
    return OutcomeEvent(
        kind=kind,
        conversation_id=tracker.sender_id,
        channel=turn.channel if turn is not None else "unknown",
        customer_id=turn.customer_id if turn is not None else None,
        topic=topic,
        value=value,
        attrs=attrs,
    )


async def record(*events: OutcomeEvent) -> None:
    """Record the events; a failure is logged (without the events' contents), never raised."""
    if not events:
        return
    try:
        await asyncio.to_thread(services.analytics().record, list(events))
    except Exception as exc:  # analytics must never break a customer's turn
        _LOGGER.warning(
            "analytics.not_recorded conversation=%s kinds=%s error=%s",
            log_id(events[0].conversation_id),
            ",".join(sorted({e.kind for e in events})),
            type(exc).__name__,
        )


class ActionAskBotCsat(Action):
    """After the bot solved something alone: ask for a 1-5 rating once per conversation, else "anything else?"."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return ASK_BOT_CSAT

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Ask (and remember that it was asked), or go on."""
        if tracker.get_slot("csat_asked"):
            return [FollowupAction(ANYTHING_ELSE)]
        dispatcher.utter_message(response="utter_ask_bot_csat", buttons=CSAT_BUTTONS)
        # Then wait for the tap: no rule or story follows this action, so nothing else may be predicted.
        return [SlotSet("csat_asked", True), FollowupAction("action_listen")]
