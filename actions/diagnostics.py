"""Actions: walk a troubleshooting guide (the flow itself is bot.diagnostics.flow)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import analytics, services
from actions.analytics import ASK_BOT_CSAT
from actions.digressions import answer_aside
from actions.handoff import hand_over
from actions.saved_guides import offered_guides, remember
from bot.analytics.events import (
    GUIDE_ABANDONED,
    GUIDE_EXHAUSTED,
    GUIDE_RESOLVED,
    GUIDE_STARTED,
    GUIDE_STEP,
    OutcomeEvent,
)
from bot.diagnostics import flow


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def paused_guides(tracker: Tracker) -> list[dict[str, Any]]:
    """The guides the customer left (slot ``diag_paused``), most recent first."""
    value = tracker.get_slot("diag_paused")
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


async def emit(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    turn: flow.FlowTurn,
    offered: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Send the turn's messages, request its handoff (with the full packet), and return its slot events.

    A verified customer's paused guides are saved for their other channels (and those resumed or
    ended forgotten). ``offered``: the paused guides the turn started from, when the customer's
    saved ones were added to the conversation's (by default the conversation's).
    """
    for say in turn.messages:
        buttons = [{"title": title, "payload": payload} for title, payload in say.buttons]
        if say.response:
            dispatcher.utter_message(response=say.response, buttons=buttons or None, **say.values)
        else:
            dispatcher.utter_message(text=say.text, buttons=buttons or None)
    if turn.handoff is not None:
        await hand_over(tracker, turn.handoff.reason, troubleshooting=dict(turn.handoff.packet))
    await analytics.record(*guide_events(tracker, turn))
    before = paused_guides(tracker) if offered is None else offered
    await remember(tracker, before, tracker.get_slot("diag_active"), turn.active, turn.paused)
    events: list[dict[str, Any]] = [SlotSet("diag_active", turn.active), SlotSet("diag_paused", turn.paused)]
    if turn.outcome == "resolved":
        events.append(FollowupAction(ASK_BOT_CSAT))  # "how did I do?" once, then "anything else?"
    elif turn.followup:
        events.append(FollowupAction(turn.followup))
    return events


#: The outcome of a guide's turn -> the event that ends a run (the guide is the one running before).
_ENDINGS = {"resolved": GUIDE_RESOLVED, "handoff": GUIDE_EXHAUSTED, "paused": GUIDE_ABANDONED}


def guide_events(tracker: Tracker, turn: flow.FlowTurn) -> list[OutcomeEvent]:
    """The analytics events of a guide's turn: started, a step reached, or how the run ended."""
    shown = turn.active or {}
    before = tracker.get_slot("diag_active") or {}
    found = []
    if turn.outcome == "started" and shown.get("guide"):
        found.append(analytics.event(tracker, GUIDE_STARTED, str(shown["guide"])))
    if turn.outcome in ("started", "next_step", "corrected") and shown.get("guide"):
        found.append(analytics.event(tracker, GUIDE_STEP, str(shown["guide"]), step=shown.get("node")))
    if turn.outcome in _ENDINGS and isinstance(before, dict) and before.get("guide"):
        found.append(analytics.event(tracker, _ENDINGS[turn.outcome], str(before["guide"]), step=before.get("node")))
    return found


def _device_named(text: str) -> list[dict[str, Any]]:
    """Remember the product a guide's opener or answer names ("it's the velo ax3000"), for "how much is it?"."""
    if not text or text.startswith("/"):
        return []
    sku = services.product_answers().product_named(text, skip_categories=("accessory",))
    return [SlotSet("product_sku", sku)] if sku else []


class ActionDiagnosticStart(Action):
    """Start (or resume) the guide for the problem the customer described."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_diagnostic_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Show the first (or the left-off) step; skip the questions the customer's message already answered."""
        opener = tracker.latest_message.get("text") or ""
        active = tracker.get_slot("diag_active")
        offered = await offered_guides(tracker, active, paused_guides(tracker))  # also those left on other channels
        turn = flow.start(services.guides(), _intent(tracker), active, offered, opener)
        return [*_device_named(opener), *await emit(dispatcher, tracker, turn, offered)]


class ActionDiagnosticStep(Action):
    """Take the customer's answer to the current step (predicted by DiagnosticFlowPolicy)."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_diagnostic_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Advance, end, or re-ask the step."""
        text = tracker.latest_message.get("text") or ""
        turn = flow.answer(services.guides(), text, tracker.get_slot("diag_active"), paused_guides(tracker))
        return [*_device_named(text), *await emit(dispatcher, tracker, turn)]


class ActionDiagnosticAside(Action):
    """A product question in the middle of a guide (price, stock, specs): answer it, then show the step again.

    Predicted by DiagnosticFlowPolicy for its ``aside_intents``; the guide stays where it was,
    and only an answer to the step moves it on.
    """

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_diagnostic_aside"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer, then repeat the current step after a "Back to the guide" line."""
        answered = await answer_aside(dispatcher, tracker, domain) or {}
        lead = flow.Say(response="utter_back_to_guide")
        turn = flow.repeat(services.guides(), tracker.get_slot("diag_active"), paused_guides(tracker), lead)
        events = [SlotSet(name, value) for name, value in answered.items() if not name.startswith("diag_")]
        return [*events, *await emit(dispatcher, tracker, turn)]


class ActionDiagnosticResume(Action):
    """Go back to a guide the customer left ("back to my wifi problem")."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_diagnostic_resume"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Show the step the customer left at (in this conversation, or on another of their channels)."""
        guide = next(tracker.get_latest_entity_values("guide"), None)
        text = tracker.latest_message.get("text") or ""
        active = tracker.get_slot("diag_active")
        offered = await offered_guides(tracker, active, paused_guides(tracker))
        turn = flow.resume(services.guides(), guide, active, offered, text)
        return await emit(dispatcher, tracker, turn, offered)


class ActionDiagnosticStop(Action):
    """Put the running guide on hold ("forget it")."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_diagnostic_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Pause and say how to come back."""
        turn = flow.pause(services.guides(), tracker.get_slot("diag_active"), paused_guides(tracker))
        return await emit(dispatcher, tracker, turn)
