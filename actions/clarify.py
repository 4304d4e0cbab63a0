"""Action: a message the NLU did not understand ("did you mean ...?", then a person)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.catalog import ActionProductLookup, follow_up_of_a_product_answer, product_question_in_words
from actions.handoff import announce, frustration_signal, hand_over
from actions.help import reply_from_help, search_help
from bot.handoff.clarify import HUMAN_INTENT, clarify_options, low_confidence_streak


class ActionClarify(Action):
    """Answers ``nlu_fallback``: a confident help-center answer, else "did you mean ...?", else a person.

    A message no intent fits may still be a question the help center answers well
    (actions/help.py); otherwise the two likeliest topics are offered.

    How many misunderstood messages in a row lead to a handoff is
    ``low_confidence_handoff_after`` in ``data/handoff.yml``; the button titles are its
    ``clarify_titles``.
    """

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Hand over (frustrated, or not understood too often), else ask with buttons."""
        config = services.handoff_config()
        signal = frustration_signal(tracker)
        if signal is not None:
            events = await hand_over(tracker, "frustration", extra={"frustration_signal": signal})
            dispatcher.utter_message(response="utter_frustrated_empathy")
            await announce(dispatcher, tracker)
            return events
        if follow_up_of_a_product_answer(tracker):
            # "and what about the mesh trio?" right after a price: the same question about it.
            return await ActionProductLookup().run(dispatcher, tracker, domain)
        text = tracker.latest_message.get("text") or ""
        question = product_question_in_words(tracker)
        if question is not None:
            # "is the raptor there too?": a product question the NLU missed, asked in its own words.
            return await ActionProductLookup.answer(dispatcher, tracker, question)
        if text and not text.startswith("/"):
            # Not one of the intents, but perhaps a question the help center answers well.
            result = await search_help(text)
            if result.decision == "answer":
                return await reply_from_help(dispatcher, tracker, result)
        if low_confidence_streak(tracker.events) >= config.low_confidence_handoff_after:
            events = await hand_over(tracker, "low_confidence")
            dispatcher.utter_message(response="utter_not_understood_handoff")
            return events
        options = clarify_options(tracker.latest_message, config.clarify_titles)
        if not options:
            dispatcher.utter_message(response="utter_default")
            return []
        options.append((config.clarify_titles[HUMAN_INTENT], f"/{HUMAN_INTENT}"))
        dispatcher.utter_message(
            response="utter_clarify", buttons=[{"title": title, "payload": payload} for title, payload in options]
        )
        return []
