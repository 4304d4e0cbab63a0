"""Actions: the verified customer's own orders, warranty, bills and open requests.

The customer is whoever the gateway verified (actions/context.py); anonymous customers are
asked to verify first and their question is answered afterwards. Every lookup is filtered by
that customer id and audited (bot.records.AuditedRecords). An order number belonging to
someone else gets exactly the reply of a number that does not exist.
"""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.context import channel_name, verified_customer
from actions.digressions import answer_digression
from actions.handoff import announce, hand_over
from bot.account import replies
from bot.account.replies import Utterance
from bot.core.phrasing import ORDER_NUMBER
from bot.records import AuditedRecords, RecordsUnavailable

SERIAL = re.compile(r"\b[A-Z]{2}-[A-Z0-9]{2,3}-[A-Z0-9]{6}\b", re.IGNORECASE)
MAX_ORDER_TRIES = 3
#: ``order_tries`` value meaning "the form stopped because the records system is down; already said".
ORDER_ABORTED = -1.0


def _say(dispatcher: CollectingDispatcher, utterance: Utterance) -> None:
    dispatcher.utter_message(response=utterance.response, **utterance.values)


def _records(tracker: Tracker) -> AuditedRecords:
    return AuditedRecords(services.records(), services.engine(), channel_name(tracker))


def find_order_number(text: str) -> str | None:
    """The first order number (6 digits starting with 1) in ``text``."""
    found = ORDER_NUMBER.search(text.replace(" ", "").replace("#", ""))
    return found.group(0) if found else None


_BACK_TO_AN_ORDER = re.compile(
    r"\b(?:it|that|this|them|that one|this one|after all|the order|that order|same order)\b", re.IGNORECASE
)


def refers_to_an_order(text: str) -> bool:
    """Whether a request points back at the order just talked about ("ok, cancel it", "return that one")."""
    return bool(_BACK_TO_AN_ORDER.search(text))


def bot_spoke_this_turn(tracker: Tracker) -> bool:
    """Whether an action already said something since the customer's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return True
    return False


class RecordsAction(Action, abc.ABC):
    """Base: verify first (remembering the question), answer, and say so when records are down."""

    action_name = ""

    def name(self) -> str:
        """Name used in domain.yml."""
        return self.action_name

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        """Answer for the verified customer, or start verification and answer afterwards."""
        customer_id = await verified_customer(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_need_verification")
            return [SlotSet("pending_request", self.name()), FollowupAction("link_form")]
        try:
            return await self.answer(dispatcher, tracker, customer_id)
        except RecordsUnavailable:
            dispatcher.utter_message(response="utter_records_unavailable")
            return [SlotSet("order_number", None), SlotSet("order_tries", 0.0)]

    @abc.abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[dict[str, Any]]:
        """Look up and answer (subclasses)."""


class ActionOrderStatus(RecordsAction):
    """Status of one order, with carrier and tracking; asks for the number with order_form."""

    action_name = "action_order_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[dict[str, Any]]:
        """Answer for the number in the slot or the message, or collect one in the form."""
        reset = [SlotSet("order_number", None), SlotSet("order_tries", 0.0)]
        tries = float(tracker.get_slot("order_tries") or 0.0)
        if tries == ORDER_ABORTED:
            return reset  # the form already said the records system is down
        if tries >= MAX_ORDER_TRIES:
            # Three wrong numbers: a person takes over (reason form_failed), with the tries in the transcript.
            handoff_events = await hand_over(tracker, "form_failed")
            dispatcher.utter_message(response="utter_order_tries_exhausted")
            await announce(dispatcher, tracker)
            return [*handoff_events, *reset]
        number = find_order_number(str(tracker.get_slot("order_number") or ""))
        if number is None:
            number = next((find_order_number(str(v)) for v in tracker.get_latest_entity_values("order_number")), None)
        # The form validates slots set in this turn on activation; a None is skipped there.
        if number is None:
            return [SlotSet("order_tries", 0.0), FollowupAction("order_form")]
        order = await _records(tracker).order(customer_id, number)
        if order is None:
            dispatcher.utter_message(response="utter_order_not_found")
            return [SlotSet("order_number", None), SlotSet("order_tries", 1.0), FollowupAction("order_form")]
        _say(dispatcher, replies.order_status(order))
        return [*reset, SlotSet("last_order", number)]


class ValidateOrderForm(FormValidationAction):
    """Checks the order number: its format, and that it is one of this customer's orders."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "validate_order_form"

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Accept a known number; count wrong ones; stop after three (then a person takes over)."""
        if value is None:
            return {}
        if bot_spoke_this_turn(tracker):
            # Activation after action_order_status already answered the number in this very
            # message: the form asks for a new one instead of judging it twice.
            return {"order_number": None}
        tries = max(float(tracker.get_slot("order_tries") or 0.0), 0.0)
        customer_id = await verified_customer(tracker)
        number = find_order_number(str(value or ""))
        if number is None:
            answered = await answer_digression(dispatcher, tracker, domain, "utter_back_to_order", left="utter_ok")
            if answered is not None:
                if answered.get("requested_slot", "") is None:
                    answered["order_tries"] = ORDER_ABORTED  # left the form: action_order_status stays quiet
                return {**answered, "order_number": None}
        if customer_id is not None and number is not None:
            try:
                order = await _records(tracker).order(customer_id, number)
            except RecordsUnavailable:
                dispatcher.utter_message(response="utter_records_unavailable")
                return {"order_number": None, "order_tries": ORDER_ABORTED, "requested_slot": None}
            if order is not None:
                return {"order_number": number}
        tries += 1
        if tries >= MAX_ORDER_TRIES:
            return {"order_number": None, "order_tries": tries, "requested_slot": None}
        dispatcher.utter_message(response="utter_order_not_found" if number else "utter_order_number_invalid")
        return {"order_number": None, "order_tries": tries}


class ActionRecentOrders(RecordsAction):
    """The customer's latest orders."""

    action_name = "action_recent_orders"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[dict[str, Any]]:
        """List up to five orders, newest first."""
        _say(dispatcher, replies.recent_orders(await _records(tracker).recent_orders(customer_id, limit=5)))
        return []


class ActionWarrantyStatus(RecordsAction):
    """Warranty of the customer's devices, or of the serial they named."""

    action_name = "action_warranty_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[dict[str, Any]]:
        """Answer for every registered device, or the one asked about."""
        serial = next(tracker.get_latest_entity_values("serial"), None)
        if serial is None:
            found = SERIAL.search(tracker.latest_message.get("text") or "")
            serial = found.group(0) if found else None
        devices = await _records(tracker).devices(customer_id)
        _say(dispatcher, replies.warranty(devices, dt.date.today(), serial))
        return []


class ActionBillingStatus(RecordsAction):
    """Subscription plan and next bill, latest invoices with amount and due date."""

    action_name = "action_billing_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[dict[str, Any]]:
        """Answer from subscriptions and invoices."""
        records = _records(tracker)
        subscriptions, invoices = await asyncio.gather(
            records.subscriptions(customer_id), records.invoices(customer_id, limit=3)
        )
        _say(dispatcher, replies.billing(subscriptions, invoices))
        return []


class ActionMyHandoffs(RecordsAction):
    """The customer's open requests with the support team (the bot's own records)."""

    action_name = "action_my_handoffs"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[dict[str, Any]]:
        """List open and claimed handoffs of every conversation of this customer."""
        handoffs = await asyncio.to_thread(services.handoff_requests().open_for_customer, customer_id)
        if not handoffs:
            dispatcher.utter_message(response="utter_no_handoffs")
            return []
        lines = "\n".join(
            f"• Request #{h.id} ({h.reason.replace('_', ' ')}), {h.status} since {replies.day(h.created_at.date())}"
            for h in handoffs
        )
        dispatcher.utter_message(response="utter_my_handoffs", lines=lines)
        return []
