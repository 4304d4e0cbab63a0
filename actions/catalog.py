"""Action: answer product questions from the catalog (the answers are bot.catalog.answers)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.diagnostics import flow

QUESTIONS = {
    "ask_product_price": "price",
    "ask_product_availability": "availability",
    "ask_product_specs": "specs",
    "ask_product_compatibility": "compatibility",
    "ask_product_compare": "compare",
}


def _guide_left_this_turn(tracker: Tracker) -> dict[str, Any] | None:
    """The troubleshooting guide this very question interrupted (paused by the dialogue policy)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return None
        if event.get("event") == "slot" and event.get("name") == "diag_paused":
            paused = event.get("value") or []
            first = paused[0] if paused and isinstance(paused[0], dict) else None
            return first if first and first.get("title") and first.get("guide") else None
    return None


class ActionProductLookup(Action):
    """Price, stock by store, specs, compatibility or a comparison, by the question's intent."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_product_lookup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer, ask which product is meant, or say plainly that there is no such product."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        question = QUESTIONS.get(str(intent), "specs")
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/"):
            text = ""  # a clarification button: the chosen SKU comes as an entity
        answer = services.product_answers().answer(
            question,
            text,
            mentions=list(tracker.get_latest_entity_values("product")),
            skus=list(tracker.get_latest_entity_values("sku")),
            last_sku=tracker.get_slot("product_sku"),
        )
        back = _guide_left_this_turn(tracker)
        for number, reply in enumerate(answer.replies, start=1):
            buttons = [{"title": title, "payload": payload} for title, payload in reply.buttons]
            if back is not None and number == len(answer.replies):
                buttons.append({"title": f"Back to: {back['title']}", "payload": flow.resume_payload(back["guide"])})
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        return [SlotSet("product_sku", answer.skus[-1])] if answer.skus else []
