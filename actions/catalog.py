"""Action: answer product questions from the catalog (the answers are bot.catalog.answers)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services

QUESTIONS = {
    "ask_product_price": "price",
    "ask_product_availability": "availability",
    "ask_product_specs": "specs",
    "ask_product_compatibility": "compatibility",
    "ask_product_compare": "compare",
}


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
        for reply in answer.replies:
            buttons = [{"title": title, "payload": payload} for title, payload in reply.buttons]
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        return [SlotSet("product_sku", answer.skus[-1])] if answer.skus else []
