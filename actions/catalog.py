"""Action: answer product questions from the catalog (the answers are bot.catalog.answers)."""

from __future__ import annotations

import re
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


_FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|sorry|i meant|no,? i meant|not the|or|also|in|at)\b", re.I)


def follow_up_of_a_product_answer(tracker: Tracker) -> bool:
    """Whether the latest message reads as a follow-up to the product answer just given.

    The bot's last action was a product answer, the message is short (a follow-up cue such
    as "and", "what about", "sorry, I meant", or at most four words) and names a product or
    a store. Then the last question is asked again about what it names.
    """
    last_action = next(
        (
            e.get("name")
            for e in reversed(tracker.events[:-1])
            if e.get("event") == "action" and e.get("name") not in ("action_listen", None)
        ),
        None,
    )
    if last_action not in ("action_product_lookup", "action_diagnostic_aside") or not tracker.get_slot(
        "product_question"
    ):
        return False
    text = str(tracker.latest_message.get("text") or "")
    words = text.split()
    if not words or len(words) > 8 or not (_FOLLOW_UP.match(text) or len(words) <= 4):
        return False
    return bool(list(tracker.get_latest_entity_values("product"))) or services.product_answers().names_product_or_store(
        text
    )


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
        # A follow-up ("and the mesh trio?", "what about hamburg?") asks the last question again.
        question = QUESTIONS.get(str(intent)) or str(tracker.get_slot("product_question") or "specs")
        if question not in QUESTIONS.values():
            question = "specs"
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
        events = [SlotSet("product_question", question)]
        return [*events, SlotSet("product_sku", answer.skus[-1])] if answer.skus else events
