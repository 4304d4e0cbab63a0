"""Actions: link this chat to a customer with a code emailed to the address on file.

The work is bot.identity.linking.LinkingService; these actions only ask, relay its outcome
and answer the question the customer asked before verifying. The email address and the code
are never kept in slots (only the markers "sent" / "ok"). The chat being linked is the
channel identity the gateway signed for this message (actions/context.py); a message without
one links, sends and unlinks nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.context import channel_identity, verified_customer
from actions.digressions import answer_digression
from bot.account import service
from bot.identity.linking import normalize_code

_STOP = {"requested_slot": None}


class ActionStartLinking(Action):
    """Handle "verify me": start the form unless this chat is verified already."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_start_linking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        """Start link_form, or say the chat is verified."""
        if await verified_customer(tracker) is not None:
            dispatcher.utter_message(response="utter_already_verified")
            return []
        return [SlotSet("link_email", None), SlotSet("link_code", None), FollowupAction("link_form")]


class ValidateLinkForm(FormValidationAction):
    """Sends the code for the address given, then checks the code typed."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "validate_link_form"

    async def validate_link_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Send a code if the address is on file (the reply is the same either way)."""
        if value is None:
            return {}  # the form is starting: nothing typed yet
        if "@" not in str(value):
            answered = await answer_digression(
                dispatcher, tracker, domain, "utter_back_to_linking", left="utter_link_stopped"
            )
            if answered is not None:
                return {**answered, "link_email": None}
        chat = channel_identity(tracker)
        if chat is None:
            # No chat to link: answer as for an address not on file (nothing is sent, nothing told).
            return {"link_email": "sent"}
        started = await asyncio.to_thread(services.linking().start, *chat, str(value or ""))
        if started.status == "sent":
            return {"link_email": "sent"}
        if started.status == "invalid_email":
            dispatcher.utter_message(response="utter_link_email_invalid")
            return {"link_email": None}
        dispatcher.utter_message(response="utter_link_locked" if started.status == "locked" else "utter_link_too_many")
        return {"link_email": None, **_STOP}

    async def validate_link_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Link on the right code; count wrong ones; stop on a lock or an expired code."""
        if value is None:
            return {}
        corrected = service.find_contact(str(value))
        if normalize_code(str(value)) is None and corrected is not None and corrected[0] == "email":
            # "oops typo, it's anna.k@example.org": a code goes to the corrected address instead.
            return await self.validate_link_email(corrected[1], dispatcher, tracker, domain) | {"link_code": None}
        if normalize_code(str(value)) is None:
            answered = await answer_digression(
                dispatcher, tracker, domain, "utter_back_to_linking_code", left="utter_link_stopped"
            )
            if answered is not None:
                return {**answered, "link_code": None}
        chat = channel_identity(tracker)
        if chat is None:  # no chat to link: the code cannot be checked, a new one must be asked for
            dispatcher.utter_message(response="utter_link_code_expired")
            return {"link_code": None, "link_email": None, **_STOP}
        result = await asyncio.to_thread(services.linking().verify, *chat, str(value or ""))
        if result.status == "linked":
            dispatcher.utter_message(response="utter_link_done")
            return {"link_code": "ok"}
        if result.status == "invalid":
            dispatcher.utter_message(response="utter_link_code_invalid")
            return {"link_code": None, "link_email": "retry"}
        if result.status == "wrong":
            dispatcher.utter_message(response="utter_link_code_wrong", tries_left=str(result.tries_left))
            return {"link_code": None, "link_email": "retry"}
        if result.status == "locked":
            dispatcher.utter_message(response="utter_link_locked")
        else:
            dispatcher.utter_message(response="utter_link_code_expired")
        return {"link_code": None, "link_email": None, **_STOP}


class ActionLinkingDone(Action):
    """After the form: answer the question asked before verifying, if the chat is now verified."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_linking_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        """Follow up with the pending request (verified) or just clear the form's slots."""
        events: list[dict[str, Any]] = [
            SlotSet("link_email", None),
            SlotSet("link_code", None),
            SlotSet("pending_request", None),
        ]
        pending = tracker.get_slot("pending_request")
        if pending and await verified_customer(tracker) is not None:
            events.append(FollowupAction(str(pending)))
        return events


class ActionUnlink(Action):
    """Unlink this chat from the customer's account."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_unlink"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        """Remove the link; a token-verified web session stays verified by its site."""
        chat = channel_identity(tracker)
        removed = chat is not None and await asyncio.to_thread(services.linking().unlink, *chat)
        dispatcher.utter_message(response="utter_unlinked" if removed else "utter_not_linked")
        return []
