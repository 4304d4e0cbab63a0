"""Action: the greeting, which welcomes a returning verified customer back to what is still open.

A verified customer who still has a request with the support team (open or claimed, on any
of their channels) hears of the newest one; one who left a troubleshooting guide paused (on any
channel, bot/diagnostics/saved.py) is offered to go back to it at the same step. Anyone else
gets the usual greeting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.context import verified_customer
from bot.diagnostics.saved import offer

#: The response of a request by its status (``open``: waiting for a person; ``claimed``: a person has it).
REQUEST_RESPONSES = {"open": "utter_welcome_back_request", "claimed": "utter_welcome_back_request_claimed"}


class ActionGreet(Action):
    """Greet; a returning verified customer first hears about their open request and paused guide."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Say what is still open for the customer, or the usual greeting."""
        customer_id = await verified_customer(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_greet")
            return []
        handoffs, saved = await asyncio.gather(
            asyncio.to_thread(services.handoff_requests().open_for_customer, customer_id),
            asyncio.to_thread(services.saved_guides().paused, customer_id, services.guides()),
        )
        active = tracker.get_slot("diag_active")
        running = active.get("guide") if isinstance(active, dict) else None
        saved = [s for s in saved if s.guide_id != running]
        if handoffs:
            newest = handoffs[-1]
            dispatcher.utter_message(
                response=REQUEST_RESPONSES.get(newest.status, REQUEST_RESPONSES["open"]),
                number=str(newest.id),
                reason=newest.reason.replace("_", " "),
            )
        offered = offer(saved, after_request=bool(handoffs))
        if offered is not None:
            buttons = [{"title": title, "payload": payload} for title, payload in offered.buttons]
            dispatcher.utter_message(response=offered.response, buttons=buttons, **offered.values)
        if not handoffs and offered is None:
            dispatcher.utter_message(response="utter_greet")
        return []
