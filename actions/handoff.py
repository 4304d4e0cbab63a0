"""Action: hand the conversation to a human agent."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.diagnostics import flow


def _transcript(tracker: Tracker, limit: int = 20) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for event in tracker.events:
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            lines.append(
                {
                    "sender": "customer",
                    "text": event.get("text"),
                    "intent": intent.get("name"),
                    "confidence": intent.get("confidence"),
                }
            )
        elif event.get("event") == "bot" and event.get("text"):
            lines.append({"sender": "bot", "text": event.get("text")})
    return lines[-limit:]


class ActionRequestHuman(Action):
    """Record a handoff request (customer asked, or is frustrated) and tell the customer."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Open (or reuse) the handoff, with the troubleshooting path so far, and tell the customer."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = "frustration" if intent == "frustrated" else "customer_request"
        metadata = tracker.get_latest_input_channel() or "unknown"
        slots = {k: v for k, v in tracker.current_slot_values().items() if k not in ("diag_active", "diag_paused")}
        packet: dict[str, Any] = {"reason": reason, "transcript": _transcript(tracker), "slots": slots}
        troubleshooting = flow.give_up(services.guides(), tracker.get_slot("diag_active"))
        if troubleshooting is not None:
            packet["troubleshooting"] = troubleshooting
        services.handoff_requests().request(tracker.sender_id, reason, packet, channel=metadata)
        dispatcher.utter_message(response="utter_handoff_requested")
        return [SlotSet("diag_active", None)] if troubleshooting is not None else []
