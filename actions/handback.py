"""Actions: an agent hands the conversation back to the bot, and the customer rates the help.

The gateway triggers the external intents ``handoff_resolved`` (the agent resolved the
handoff: CSAT is asked) and ``handoff_handed_back`` (the agent returns the customer mid-way:
a guide paused by the handoff resumes at its step).
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import analytics, services
from actions.diagnostics import emit, paused_guides
from bot.analytics.events import CSAT
from bot.diagnostics import flow
from bot.handoff.csat import parse_score

STORE_CSAT = "action_store_csat"
ANYTHING_ELSE = "utter_anything_else"


class ActionHandoffResolved(Action):
    """The agent resolved the handoff: welcome the customer back and ask for a score."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_handoff_resolved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Say the bot is back and ask for a 1-5 rating."""
        dispatcher.utter_message(response="utter_handed_back")
        dispatcher.utter_message(response="utter_ask_csat", buttons=analytics.CSAT_BUTTONS)
        return [SlotSet("csat_asked", True)]  # one rating per conversation: the bot does not ask again


def _rating_the_bot(tracker: Tracker) -> bool:
    """Whether the latest rating question was the bot's own (after it solved something alone)."""
    for event in reversed(tracker.events):
        asked = (event.get("metadata") or {}).get("utter_action") if event.get("event") == "bot" else None
        if asked in ("utter_ask_csat", "utter_ask_bot_csat"):
            return asked == "utter_ask_bot_csat"
    return False


def _asked_again(tracker: Tracker) -> bool:
    """Whether the customer's previous answer was already an invalid score (asked twice)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif event.get("event") == "action" and seen_user and event.get("name") != "action_listen":
            return event.get("name") == STORE_CSAT
    return False


class ActionStoreCsat(Action):
    """Store the customer's score on the latest resolved handoff; ask once more when it is not 1-5."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return STORE_CSAT

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Thank the customer (or re-ask once), then ask whether there is anything else."""
        entity = next(tracker.get_latest_entity_values("score"), None)
        score = parse_score(entity, tracker.latest_message.get("text") or "")
        if score is None:
            if not _asked_again(tracker):
                dispatcher.utter_message(response="utter_csat_invalid")
                dispatcher.utter_message(response="utter_ask_csat", buttons=analytics.CSAT_BUTTONS)
                return []
            return [FollowupAction(ANYTHING_ELSE)]
        if _rating_the_bot(tracker):
            await analytics.record(analytics.event(tracker, CSAT, value=float(score), handled_by="bot"))
            dispatcher.utter_message(response="utter_thanks_csat")
            return [FollowupAction(ANYTHING_ELSE)]
        stored = await asyncio.to_thread(services.handoff_requests().record_csat, tracker.sender_id, score)
        if stored:
            dispatcher.utter_message(response="utter_thanks_csat")
        return [FollowupAction(ANYTHING_ELSE)]


class ActionHandoffHandedBack(Action):
    """The agent handed the customer back mid-way: resume the guide paused by the handoff."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_handoff_handed_back"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Show the step of the most recently paused guide, or ask what else the customer needs."""
        dispatcher.utter_message(response="utter_handed_back")
        turn = flow.resume(services.guides(), None, tracker.get_slot("diag_active"), paused_guides(tracker))
        if turn.outcome == "none":
            return [FollowupAction(ANYTHING_ELSE)]
        return await emit(dispatcher, tracker, turn)
