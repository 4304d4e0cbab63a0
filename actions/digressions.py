"""Questions asked in the middle of a form: answered, then the form goes on (or ends, if the customer said so).

A form (account linking, an order number, a self-service request) asks for one value at a
time. When the customer's answer is not a valid value but a confident message of another
intent ("what are your opening hours?", "how much is the Mesh Duo?", "why do you need my
email?"), the question is answered by the action that would have answered it outside the
form, a short "Back to …" line follows, and the form asks again. A message that starts by
leaving ("never mind, how much is …", "forget it, …") ends the form instead, and the question
is still answered. A value that fails validation and is nothing else gets the form's own
validation message, as before.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.catalog import ActionProductLookup
from actions.help import ActionHelpAnswer, ActionHelpFeedback, reply_from_help, search_help
from bot.core.phrasing import after_leaving, is_question, leaves

#: How sure the NLU must be that a message is another request before a form gives way to it.
CONFIDENCE = 0.6

#: Intents answered in the middle of a form, by an action or a response.
ANSWERS: dict[str, type[Action] | str] = {
    "ask_product_price": ActionProductLookup,
    "ask_product_availability": ActionProductLookup,
    "ask_product_specs": ActionProductLookup,
    "ask_product_compatibility": ActionProductLookup,
    "ask_product_compare": ActionProductLookup,
    "ask_help": ActionHelpAnswer,
    "help_article": ActionHelpAnswer,
    "help_feedback": ActionHelpFeedback,
    "ask_business_hours": "utter_business_hours",
    "bot_challenge": "utter_iamabot",
    "chitchat": "utter_chitchat",
}


def digression(tracker: Tracker) -> str | None:
    """The intent of the latest message if it is a confident request the form should give way to."""
    intent = tracker.latest_message.get("intent") or {}
    name = str(intent.get("name") or "")
    if name in ANSWERS and float(intent.get("confidence") or 0.0) >= CONFIDENCE:
        return name
    return None


def leaving(tracker: Tracker) -> bool:
    """Whether the latest message starts by leaving what was going on ("never mind, …")."""
    return leaves(str(tracker.latest_message.get("text") or ""))


async def answer_aside(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any] | None:
    """Answer the latest message if it is a digression; the slots its answer sets, or None if it is none."""
    intent = digression(tracker)
    if intent is None:
        return None
    answer = ANSWERS[intent]
    slots: dict[str, Any] = {}
    if isinstance(answer, str):
        dispatcher.utter_message(response=answer)
        return slots
    for event in await answer().run(dispatcher, tracker, domain):
        if event.get("event") == "slot" and event.get("name"):
            slots[str(event["name"])] = event.get("value")
    return slots


async def _answer_from_help(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any] | None:
    """Answer a question no intent fits from the help center: its answer, or the articles it suggests.

    "whats the return window again?", "cancel that, what's your returns policy?". None when the
    help center knows nothing about it.
    """
    text = str(tracker.latest_message.get("text") or "")
    rest = after_leaving(text)
    if text.startswith("/") or len(rest.split()) < 2:
        return None
    result = await search_help(rest)
    if result.decision not in ("answer", "suggest"):
        return None
    events = await reply_from_help(dispatcher, tracker, result)
    return {str(e["name"]): e.get("value") for e in events if e.get("event") == "slot" and e.get("name")}


async def answer_digression(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, back_to: str, left: str | None = None
) -> dict[str, Any] | None:
    """Answer a digression and say the form goes on (``back_to`` response), or None if it is none.

    Returns the slots to set: the answering action's own slot events are kept (e.g. the product
    talked about), so "how much is it?" later still works. When the customer was leaving, the
    form is ended (``requested_slot`` None) and no "Back to" line is said; with nothing to
    answer after the leaving words ("nevermind, i'll keep the old one") the form's ``left``
    response says so, as a plain "never mind" would.
    """
    text = str(tracker.latest_message.get("text") or "")
    slots = await answer_aside(dispatcher, tracker, domain)
    if slots is None and is_question(after_leaving(text)):
        slots = await _answer_from_help(dispatcher, tracker)
    if slots is None and leaving(tracker) and left is not None:
        dispatcher.utter_message(response=left)
        slots = {}
    if slots is None:
        return None
    if leaving(tracker):
        slots["requested_slot"] = None
        return slots
    dispatcher.utter_message(response=back_to)
    return slots
