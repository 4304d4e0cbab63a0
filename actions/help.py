"""Actions: answer from the help center (bot.help) and take the customer's "did that help?"."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.help.replies import ARTICLE_INTENT, HelpReply
from bot.help.search import SearchResult


def _say(dispatcher: CollectingDispatcher, reply: HelpReply) -> None:
    buttons = [{"title": title, "payload": payload} for title, payload in reply.buttons]
    dispatcher.utter_message(text=reply.text, buttons=buttons or None)


def _alternative(result: SearchResult, shown: str | None) -> str | None:
    """The likeliest article other than the one shown (offered if the answer did not help)."""
    return next((a.id for a in result.articles(3) if a.id != shown), None)


async def search_help(text: str) -> SearchResult:
    """The help center's best sections for ``text`` (off the event loop: encoding takes milliseconds)."""
    return await asyncio.to_thread(services.help_index().search, text, 12)  # enough hits to find another article


async def reply_from_help(
    dispatcher: CollectingDispatcher, tracker: Tracker, result: SearchResult
) -> list[dict[str, Any]]:
    """Reply by the search's decision and record the reply; returns the slots the feedback needs."""
    _say(dispatcher, services.help_replies().for_result(result))
    answer_id = await asyncio.to_thread(services.help_answers().record, tracker.sender_id, result)
    shown = result.best.article.id if result.best and result.decision == "answer" else None
    return [SlotSet("help_answer_id", float(answer_id)), SlotSet("help_alternative", _alternative(result, shown))]


class ActionHelpAnswer(Action):
    """A policy or how-to question (or an article picked from suggestions), answered from ``data/help/``."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_help_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer with the best section, offer two articles, or offer a person."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == ARTICLE_INTENT:
            article_id = next(tracker.get_latest_entity_values("help_article"), None)
            article = services.help_index().articles.get(str(article_id))
            if article is not None:
                _say(dispatcher, services.help_replies().for_article(article))
                answer_id = await asyncio.to_thread(
                    services.help_answers().record_article, tracker.sender_id, article.id
                )
                return [SlotSet("help_answer_id", float(answer_id)), SlotSet("help_alternative", None)]
        text = tracker.latest_message.get("text") or ""
        return await reply_from_help(dispatcher, tracker, await search_help("" if text.startswith("/") else text))


class ActionHelpFeedback(Action):
    """The customer's verdict on the last help reply: thanks, or another article and a person."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_help_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Record the first verdict on the reply; a "no" offers the next article and a person."""
        verdict = next(tracker.get_latest_entity_values("helpful"), None)
        helpful = verdict == "yes"
        answer_id = tracker.get_slot("help_answer_id")
        # Only a "yes" or "no" is recorded; anything else is answered like a "no", but not counted as one.
        if answer_id is not None and verdict in ("yes", "no"):
            await asyncio.to_thread(services.help_answers().feedback, int(answer_id), tracker.sender_id, helpful)
        alternative_id = tracker.get_slot("help_alternative")
        alternative = services.help_index().articles.get(str(alternative_id)) if alternative_id else None
        _say(dispatcher, services.help_replies().after_feedback(helpful, alternative))
        return [SlotSet("help_answer_id", None), SlotSet("help_alternative", None)]
