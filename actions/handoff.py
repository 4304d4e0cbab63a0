"""Actions: hand the conversation to a human agent, with the packet the agent needs."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.context import channel_name, verified_customer
from actions.saved_guides import remember
from bot.diagnostics import flow
from bot.handoff.frustration import is_frustrated
from bot.handoff.language import customer_language
from bot.handoff.packet import build_packet, customer_summary
from bot.handoff.queue import queue_notice
from bot.records import AuditedRecords, RecordsUnavailable

#: Orders counted in the agent's record summary.
SUMMARY_ORDERS = 50
#: The customer's other conversations named in the packet (the console shows them all).
HISTORY_CONVERSATIONS = 10


def customer_texts(tracker: Tracker) -> list[str]:
    """The customer's messages in this conversation, oldest first."""
    return [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"]


def frustration_signal(tracker: Tracker) -> str | None:
    """Why the latest message reads as frustrated (bot/handoff/frustration.py), or ``None``."""
    texts = customer_texts(tracker)
    if not texts:
        return None
    return is_frustrated(texts[-1], texts[:-1], services.handoff_config().frustration)


async def customer_record(tracker: Tracker) -> dict[str, Any] | None:
    """``{"id", "summary"}`` of the verified customer (summary ``None`` when records are down)."""
    customer_id = await verified_customer(tracker)
    if customer_id is None:
        return None
    records = AuditedRecords(services.records(), services.engine(), channel_name(tracker))
    history = await customer_history(customer_id, tracker.sender_id)
    try:
        orders, devices, subscriptions = await asyncio.gather(
            records.recent_orders(customer_id, limit=SUMMARY_ORDERS),
            records.devices(customer_id),
            records.subscriptions(customer_id),
        )
    except RecordsUnavailable:
        return {"id": customer_id, "summary": None, "history": history}
    return {"id": customer_id, "summary": customer_summary(orders, devices, subscriptions), "history": history}


async def customer_history(customer_id: str, conversation_id: str) -> dict[str, Any]:
    """The customer's other conversations (every channel, 30 days) and open requests, for the agent."""
    view = await services.handoff_lookup().customer_view(customer_id) or {}
    others = [c for c in view.get("conversations", []) if c["id"] != conversation_id][:HISTORY_CONVERSATIONS]
    return {
        "conversations": [{k: c[k] for k in ("id", "channel", "last_at", "outcome")} for c in others],
        "open_requests": [r for r in view.get("open_requests", []) if r["conversation_id"] != conversation_id],
    }


async def hand_over(
    tracker: Tracker,
    reason: str,
    *,
    troubleshooting: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Open (or reuse) the conversation's handoff and return the slot events to apply.

    A running guide is paused at its step (not ended), so that when the agent hands the
    customer back, the bot resumes there (a verified customer may also resume it on another
    channel); its path so far goes into the packet.

    Args:
        tracker: The conversation.
        reason: One of :data:`bot.handoff.requests.REASONS`.
        troubleshooting: The path of a guide that has already ended (diagnostics_exhausted);
            by default the running guide's path.
        extra: More packet fields (e.g. the frustration signal).
    """
    events: list[dict[str, Any]] = []
    if troubleshooting is None:
        guides = services.guides()
        active = tracker.get_slot("diag_active")
        troubleshooting = flow.give_up(guides, active)
        if troubleshooting is not None:
            paused = tracker.get_slot("diag_paused")
            paused_list = [p for p in paused if isinstance(p, dict)] if isinstance(paused, list) else []
            turn = flow.pause(guides, active, paused_list, announce=False)
            events = [SlotSet("diag_active", turn.active), SlotSet("diag_paused", turn.paused)]
            await remember(tracker, paused_list, active, turn.active, turn.paused)  # resumable on other channels
    channel = channel_name(tracker)
    packet = build_packet(
        reason,
        channel,
        tracker.events,
        tracker.current_slot_values(),
        troubleshooting,
        await customer_record(tracker),
    )
    packet["language"] = customer_language(
        (tracker.latest_message.get("metadata") or {}).get("language"), customer_texts(tracker)
    )
    packet["action"] = tracker.active_loop.get("name") or None
    packet.update(extra or {})
    await asyncio.to_thread(services.handoff_requests().request, tracker.sender_id, reason, packet, channel)
    if tracker.active_loop.get("name"):
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return events


async def announce(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Tell the customer their place in the queue, or, out of hours, when the team is back."""
    response, values = await asyncio.to_thread(_notice, tracker.sender_id)
    dispatcher.utter_message(response=response, **values)


def _notice(conversation_id: str) -> tuple[str, dict[str, str]]:
    handoff_id = services.handoff_requests().open_handoff_id(conversation_id)
    if handoff_id is None:
        return "utter_handoff_requested", {}
    return queue_notice(services.engine(), services.business_hours(), handoff_id)


#: Requests that go to a person with their own reason (anything else: ``customer_request``).
INTENT_REASONS = {"frustrated": "frustration", "complaint": "complaint", "order_change": "order_change"}


class ActionRequestHuman(Action):
    """The customer asked for a person: open the handoff and say so."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Open (or reuse) the handoff, pausing a running guide, and tell the customer."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = INTENT_REASONS.get(str(intent), "customer_request")
        events = await hand_over(tracker, reason)
        await announce(dispatcher, tracker)
        return events


class ActionFrustrationHandoff(Action):
    """The customer is frustrated (the ``frustrated`` intent or FrustrationPolicy): empathy and a person."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_frustration_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Apologise, open the handoff with reason ``frustration``, and say a person will follow up."""
        signal = frustration_signal(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        detected = signal or ("intent:frustrated" if intent == "frustrated" else None)
        events = await hand_over(tracker, "frustration", extra={"frustration_signal": detected})
        dispatcher.utter_message(response="utter_frustrated_empathy")
        await announce(dispatcher, tracker)
        return events
