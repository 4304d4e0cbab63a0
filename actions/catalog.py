"""Action: answer product questions from the catalog (the answers are bot.catalog.answers)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.catalog.answers import question_asked, reads_as_follow_up
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


#: Every product answer sets its question; a bot turn that set it answered a product question.
PRODUCT_SLOTS = ("product_question",)


def answered_a_product_last(events: list[dict[str, Any]]) -> bool:
    """Whether the bot's turn just before the latest message answered a product question.

    Whichever action answered (the product lookup, an aside in a guide, a clarification that
    found the product), it set one of :data:`PRODUCT_SLOTS`.
    """
    users = 0
    for event in reversed(events):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                return False
        elif users == 1 and event.get("event") == "slot" and event.get("name") in PRODUCT_SLOTS:
            return True
    return False


def follow_up_of_a_product_answer(tracker: Tracker) -> bool:
    """Whether the latest message reads as a follow-up to the product answer just given.

    The bot's last turn answered a product question, the message is short and shaped like a
    follow-up or a correction ("and the mesh trio?", "sorry, I meant with the Velo", "what about
    Hamburg?"; :func:`bot.catalog.answers.reads_as_follow_up`) and names a product or a store.
    Then the last question is asked again about what it names.
    """
    if not answered_a_product_last(tracker.events) or not tracker.get_slot("product_question"):
        return False
    text = str(tracker.latest_message.get("text") or "")
    if not reads_as_follow_up(text):
        return False
    return bool(list(tracker.get_latest_entity_values("product"))) or services.product_answers().names_product_or_store(
        text
    )


def question_of(tracker: Tracker, follow_up: bool) -> str:
    """The question to answer: the intent's, or for a follow-up the last one unless the message asks its own."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    last = tracker.get_slot("product_question")
    text = str(tracker.latest_message.get("text") or "")
    if follow_up:
        stores = services.product_answers().stores_named(text)
        question = question_asked(text) or ("availability" if stores else None) or last or QUESTIONS.get(str(intent))
    else:
        question = QUESTIONS.get(str(intent)) or last
    return str(question) if question in QUESTIONS.values() else "specs"


def product_question_in_words(tracker: Tracker) -> str | None:
    """The product question a message no intent fits asks in its own words, if it names one product.

    "how much does the raptor cost", "is the raptor there too?" (right after a stock answer
    about one store): the question (:func:`bot.catalog.answers.question_asked`, or stock for
    "there" when a store was named before) and exactly one product the catalog finds.
    """
    text = str(tracker.latest_message.get("text") or "")
    if not text or text.startswith("/"):
        return None
    question = question_asked(text)
    if question is None and tracker.get_slot("product_stores") and re.search(r"\bthere\b", text, re.IGNORECASE):
        question = "availability"
    if question is None or question in ("compare", "compatibility"):
        return None
    return question if services.product_answers().names_one_product(text) else None


class ActionProductLookup(Action):
    """Price, stock by store, specs, compatibility or a comparison, by the question's intent."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_product_lookup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer, ask which product is meant, or say plainly that there is no such product."""
        # A follow-up ("and the mesh trio?", "what about hamburg?") asks the last question again.
        follow_up = follow_up_of_a_product_answer(tracker)
        return await self.answer(dispatcher, tracker, question_of(tracker, follow_up), follow_up)

    @staticmethod
    async def answer(
        dispatcher: CollectingDispatcher, tracker: Tracker, question: str, follow_up: bool = False
    ) -> list[dict[str, Any]]:
        """Answer ``question`` (one of :data:`QUESTIONS`' values) about what the latest message names."""
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/"):
            text = ""  # a clarification button: the chosen SKU comes as an entity
        answer = services.product_answers().answer(
            question,
            text,
            mentions=list(tracker.get_latest_entity_values("product")),
            skus=list(tracker.get_latest_entity_values("sku")),
            last_sku=tracker.get_slot("product_sku"),
            last_skus=list(tracker.get_slot("product_skus") or []),
            last_stores=list(tracker.get_slot("product_stores") or []),
            follow_up=follow_up,
        )
        back = _guide_left_this_turn(tracker)
        for number, reply in enumerate(answer.replies, start=1):
            buttons = [{"title": title, "payload": payload} for title, payload in reply.buttons]
            if back is not None and number == len(answer.replies):
                buttons.append({"title": f"Back to: {back['title']}", "payload": flow.resume_payload(back["guide"])})
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        events = [SlotSet("product_question", question)]
        if answer.skus:
            events += [SlotSet("product_sku", answer.skus[-1]), SlotSet("product_skus", list(answer.skus))]
        if question == "availability" and answer.skus:
            events.append(SlotSet("product_stores", list(answer.stores)))
        return events
