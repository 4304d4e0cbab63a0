"""Actions: self-service that changes the verified customer's records, each behind a confirmation.

One form, ``service_form``, asks what each request needs (bot.account.service.FORM_SLOTS):
the order, a return reason, a new address, a new email or phone proven by a code, and then
"Shall I…?" with Yes/No buttons. The change itself is the records backend's, under an
idempotency key made when the request starts: the Yes button carries the key, so tapping it
again replays the first outcome and changes nothing twice. Anonymous customers verify first
and the request continues afterwards. Every call is audited (bot.records.AuditedRecords).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import analytics, services
from actions.analytics import ASK_BOT_CSAT
from actions.context import channel_name, verified_customer
from actions.digressions import answer_digression
from actions.handoff import announce, hand_over
from actions.records import bot_spoke_this_turn, find_order_number, refers_to_an_order
from bot.account import service
from bot.account.replies import Utterance
from bot.analytics.events import SERVICE_DONE, SERVICE_REFUSED
from bot.identity.linking import normalize_code
from bot.records import AuditedRecords, RecordsUnavailable
from bot.records.backend import check_address
from bot.records.model import ServiceResult

SLOTS = ("ss_kind", "ss_key", "ss_order", "ss_reason", "ss_address", "ss_contact", "ss_code", "ss_confirm")
MAX_ORDER_TRIES = 3
_STOP = {"requested_slot": None}


def _records(tracker: Tracker) -> AuditedRecords:
    return AuditedRecords(services.records(), services.engine(), channel_name(tracker))


def _say(dispatcher: CollectingDispatcher, utterance: Utterance, buttons: list[dict[str, str]] | None = None) -> None:
    if buttons:
        dispatcher.utter_message(response=utterance.response, buttons=buttons, **utterance.values)
    else:
        dispatcher.utter_message(response=utterance.response, **utterance.values)


def _reset() -> list[EventType]:
    return [SlotSet(name, None) for name in SLOTS] + [SlotSet("order_tries", 0.0)]


def _kind(tracker: Tracker) -> str | None:
    kind = tracker.get_slot("ss_kind")
    return str(kind) if kind in service.FORM_SLOTS else None


class ActionServiceStart(Action):
    """Start a self-service request from its intent: verify first, then the form."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_service_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Pick the request, take what the message already says, and start ``service_form``."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        asked = service.KIND_OF_INTENT.get(str(intent))
        # A correction right after a refused request ("oh sorry, I meant 190010"): the same request again.
        last_kind = tracker.get_slot("ss_last_kind")
        corrected = asked is None and _kind(tracker) is None and last_kind in service.FORM_SLOTS
        kind = asked or _kind(tracker) or (str(last_kind) if corrected else None)
        if kind is None:
            dispatcher.utter_message(response="utter_default")
            return []
        # Continuing after verification: the latest message is the code, not the request, so the
        # order number the customer gave with the request was kept (never asked twice).
        text = str(tracker.latest_message.get("text") or "") if asked or corrected else ""
        number = None
        if "ss_order" in service.FORM_SLOTS[kind]:
            number = find_order_number(text) or next(
                (find_order_number(str(v)) for v in tracker.get_latest_entity_values("order_number")), None
            )
            if number is None and refers_to_an_order(text):
                # "ok, cancel it" right after the status of an order: that order (never asked twice).
                number = find_order_number(str(tracker.get_slot("last_order") or ""))
            if not asked and not corrected:
                number = find_order_number(str(tracker.get_slot("ss_order") or ""))
        customer_id = await verified_customer(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_need_verification")
            return [
                SlotSet("ss_kind", kind),
                SlotSet("ss_order", number),
                SlotSet("pending_request", self.name()),
                FollowupAction("link_form"),
            ]
        events: list[EventType] = [
            *_reset(),
            SlotSet("ss_kind", kind),
            SlotSet("ss_last_kind", kind),
            SlotSet("ss_key", service.new_key(kind)),
        ]
        try:
            if "ss_order" in service.FORM_SLOTS[kind]:
                if number is not None:
                    checked = await _check_order(dispatcher, tracker, customer_id, kind, number)
                    if checked is False:
                        return [*_reset(), SlotSet("ss_last_kind", kind), SlotSet("last_order", number)]
                    if checked is True:
                        events += [SlotSet("ss_order", number), SlotSet("last_order", number)]
            # What the request already says is not asked again: the new address, the return's reason.
            if "ss_address" in service.FORM_SLOTS[kind] and service.find_address(text):
                events.append(SlotSet("ss_address", service.find_address(text)))
            if "ss_reason" in service.FORM_SLOTS[kind] and text and not corrected:
                reason = service.reason_code(text, services.policy())
                if reason != "other":
                    events.append(SlotSet("ss_reason", reason))
            if kind == "update_contact":
                found = service.find_contact(text)
                if found is not None:
                    sent = await _send_code(dispatcher, customer_id, *found)
                    if sent is None:
                        return _reset()
                    if sent:
                        events.append(SlotSet("ss_contact", found[0]))
        except RecordsUnavailable:
            dispatcher.utter_message(response="utter_records_unavailable")
            return _reset()
        if kind == "update_contact" and not any(e.get("name") == "ss_contact" and e.get("value") for e in events):
            dispatcher.utter_message(response="utter_contact_intro")
        return [*events, FollowupAction("service_form")]


async def _check_order(
    dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str, kind: str, number: str
) -> bool | None:
    """Whether the customer's order ``number`` can have this request (the reply says why not).

    True: it can; False: it cannot (said why); None: no such order (said so).
    """
    order = await _records(tracker).order(customer_id, number)
    if order is None:
        dispatcher.utter_message(response="utter_order_not_found")
        return None
    refusal = service.eligibility(kind, order, dt.date.today(), services.policy())
    if refusal is not None:
        await analytics.record(analytics.event(tracker, SERVICE_REFUSED, kind, reason=refusal.response))
        _say(dispatcher, refusal)
        if refusal.response in service.OFFER_PERSON:
            dispatcher.utter_message(response="utter_service_offer_person")
        return False
    return True


async def _send_code(dispatcher: CollectingDispatcher, customer_id: str, kind: str, value: str) -> bool | None:
    """True: a code is on its way; False: the value is not valid (said so); None: cannot send now (said so)."""
    status = await asyncio.to_thread(services.contact_verification().start, customer_id, kind, value)
    if status == "sent":
        dispatcher.utter_message(response=f"utter_contact_code_sent_{kind}", contact=service.mask_contact(kind, value))
        return True
    if status == "invalid":
        dispatcher.utter_message(response="utter_contact_invalid")
        return False
    dispatcher.utter_message(response="utter_contact_too_many" if status == "too_many" else "utter_contact_send_failed")
    return None


async def _digress(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any] | None:
    """Answer a question asked in the middle of the request (actions/digressions.py); None if it is none."""
    answered = await answer_digression(
        dispatcher, tracker, domain, "utter_back_to_request", left="utter_service_not_changed"
    )
    if answered is not None and answered.get("requested_slot", "") is None:
        answered["ss_kind"] = None  # the customer left the request: action_service_submit does nothing
    return answered


class ValidateServiceForm(FormValidationAction):
    """Asks what the request needs, checking each answer; "no" at the confirmation ends it unchanged."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "validate_service_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """The slots of this request's kind (none for an unknown kind: the form ends)."""
        kind = _kind(tracker)
        return list(service.FORM_SLOTS[kind]) if kind else []

    async def validate_ss_order(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A number of the customer's orders that can have this request; three wrong ones: a person."""
        customer_id = await verified_customer(tracker)
        kind = _kind(tracker)
        if value is None or customer_id is None or kind is None:
            return {"ss_order": None, **_STOP}
        number = find_order_number(str(value))
        if number is None:
            answered = await _digress(dispatcher, tracker, domain)
            if answered is not None:
                return {**answered, "ss_order": None}
            return self._wrong_order(dispatcher, tracker, "utter_order_number_invalid")
        try:
            checked = await _check_order(dispatcher, tracker, customer_id, kind, number)
        except RecordsUnavailable:
            dispatcher.utter_message(response="utter_records_unavailable")
            return {"ss_order": None, "ss_kind": None, **_STOP}
        if checked is None:
            return self._wrong_order(dispatcher, tracker, None)
        if checked is False:
            return {"ss_order": None, "ss_kind": None, **_STOP}
        return {"ss_order": number}

    @staticmethod
    def _wrong_order(dispatcher: CollectingDispatcher, tracker: Tracker, response: str | None) -> dict[str, Any]:
        tries = float(tracker.get_slot("order_tries") or 0.0) + 1
        if tries >= MAX_ORDER_TRIES:
            # action_service_submit hands over (reason form_failed) when it sees the tries.
            return {"ss_order": None, "order_tries": tries, **_STOP}
        if response is not None:
            dispatcher.utter_message(response=response)
        return {"ss_order": None, "order_tries": tries}

    async def validate_ss_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The reason's code (a button title, or the customer's own words; ``other`` if nothing fits)."""
        code = service.reason_code(str(value or ""), services.policy())
        if code == "other" and str(value or "") not in services.policy().return_reasons.values():
            answered = await _digress(dispatcher, tracker, domain)
            if answered is not None:
                return {**answered, "ss_reason": None}
        return {"ss_reason": code}

    async def validate_ss_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A delivery address with a street and a postcode."""
        cleaned = check_address(str(value or ""))
        if cleaned is None:
            answered = await _digress(dispatcher, tracker, domain)
            if answered is not None:
                return {**answered, "ss_address": None}
            dispatcher.utter_message(response="utter_address_invalid")
            return {"ss_address": None}
        return {"ss_address": cleaned}

    async def validate_ss_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Send a code to the new address or number; the slot keeps only which kind it is."""
        customer_id = await verified_customer(tracker)
        if value in ("email", "phone") and bot_spoke_this_turn(tracker):
            return {"ss_contact": value}  # set by action_service_start, which sent the code this turn
        found = service.find_contact(str(value or ""))
        if customer_id is None:
            return {"ss_contact": None, **_STOP}
        if found is None:
            answered = await _digress(dispatcher, tracker, domain)
            if answered is not None:
                return {**answered, "ss_contact": None}
            dispatcher.utter_message(response="utter_contact_invalid")
            return {"ss_contact": None}
        sent = await _send_code(dispatcher, customer_id, *found)
        if sent is None:
            return {"ss_contact": None, "ss_kind": None, **_STOP}
        return {"ss_contact": found[0] if sent else None}

    async def validate_ss_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The code sent to the new address: right, wrong (tries left) or void (ask for a new one)."""
        customer_id = await verified_customer(tracker)
        if customer_id is None:
            return {"ss_code": None, **_STOP}
        if normalize_code(str(value or "")) is None:
            answered = await _digress(dispatcher, tracker, domain)
            if answered is not None:
                return {**answered, "ss_code": None}
        checked = await asyncio.to_thread(services.contact_verification().verify, customer_id, str(value or ""))
        if checked.status == "ok":
            return {"ss_code": "ok"}
        if checked.status == "invalid":
            dispatcher.utter_message(response="utter_link_code_invalid")
            return {"ss_code": None}
        if checked.status == "wrong":
            dispatcher.utter_message(response="utter_link_code_wrong", tries_left=str(checked.tries_left))
            return {"ss_code": None}
        dispatcher.utter_message(response="utter_contact_code_expired")
        return {"ss_code": None, "ss_contact": None}

    async def validate_ss_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Yes goes on to the change; no ends the request with nothing changed; a question is answered first."""
        corrected = await self._correction(dispatcher, tracker)
        if corrected is not None:
            return corrected
        if value == "yes":
            return {"ss_confirm": "yes"}
        if value != "no":
            answered = await _digress(dispatcher, tracker, domain)
            if answered is None:
                dispatcher.utter_message(response="utter_service_yes_or_no")
                return {"ss_confirm": None}
            return {**answered, "ss_confirm": None}
        dispatcher.utter_message(response="utter_service_not_changed")
        return {"ss_confirm": "no", "ss_kind": None, **_STOP}

    @staticmethod
    async def _correction(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any] | None:
        """A new order number, address or reason at the confirmation replaces the old one (asked again)."""
        text = str(tracker.latest_message.get("text") or "")
        kind = _kind(tracker)
        customer_id = await verified_customer(tracker)
        if text.startswith("/") or kind is None or customer_id is None:
            return None
        slots = service.FORM_SLOTS[kind]
        number = find_order_number(text)
        if "ss_order" in slots and number is not None and number != tracker.get_slot("ss_order"):
            try:
                checked = await _check_order(dispatcher, tracker, customer_id, kind, number)
            except RecordsUnavailable:
                dispatcher.utter_message(response="utter_records_unavailable")
                return {"ss_confirm": None, "ss_kind": None, **_STOP}
            if checked is True:
                return {"ss_order": number, "last_order": number, "ss_confirm": None}
            if checked is False:
                return {"ss_confirm": None, "ss_kind": None, "last_order": number, **_STOP}
            return {"ss_confirm": None}
        address = service.find_address(text) if "ss_address" in slots else None
        if address is not None and address != tracker.get_slot("ss_address"):
            return {"ss_address": address, "ss_confirm": None}
        if "ss_reason" in slots:
            reason = service.reason_code(text, services.policy())
            if reason != "other" and reason != tracker.get_slot("ss_reason"):
                return {"ss_reason": reason, "ss_confirm": None}
        return None


class ActionAskServiceConfirm(Action):
    """The confirmation question: what will change, with Yes / No buttons carrying the request's key."""

    def name(self) -> str:
        """Name used in domain.yml (Rasa asks for ``ss_confirm`` with it)."""
        return "action_ask_ss_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Summarise the request and ask."""
        kind, key = _kind(tracker), str(tracker.get_slot("ss_key") or "")
        customer_id = await verified_customer(tracker)
        if kind is None or customer_id is None:
            return []
        order = None
        if tracker.get_slot("ss_order"):
            try:
                order = await _records(tracker).order(customer_id, str(tracker.get_slot("ss_order")))
            except RecordsUnavailable:
                order = None
        contact = ""
        if kind == "update_contact":
            contact = "email address" if tracker.get_slot("ss_contact") == "email" else "phone number"
        question = service.confirm_question(
            kind,
            services.policy(),
            order=order,
            reason=str(tracker.get_slot("ss_reason") or ""),
            address=str(tracker.get_slot("ss_address") or ""),
            contact=contact,
        )
        yes = json.dumps({"confirm": "yes", "service_key": key})
        no = json.dumps({"confirm": "no", "service_key": key})
        buttons = [
            {"title": "Yes, go ahead", "payload": f"/service_confirm{yes}"},
            {"title": "No, leave it", "payload": f"/service_confirm{no}"},
        ]
        _say(dispatcher, question, buttons)
        return []


class ActionServiceSubmit(Action):
    """After the form (or a repeated Yes): make the change under the request's key and say what happened."""

    def name(self) -> str:
        """Name used in domain.yml."""
        return "action_service_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Apply the confirmed request; a key whose request already ran replays its outcome."""
        customer_id = await verified_customer(tracker)
        if float(tracker.get_slot("order_tries") or 0.0) >= MAX_ORDER_TRIES:
            events = await hand_over(tracker, "form_failed")
            dispatcher.utter_message(response="utter_order_tries_exhausted")
            await announce(dispatcher, tracker)
            return [*events, *_reset()]
        kind = _kind(tracker)
        key = str(tracker.get_slot("ss_key") or "")
        confirmed = tracker.get_slot("ss_confirm") == "yes"
        if kind is None and tracker.get_slot("ss_confirm") == "no":
            return _reset()  # the form ended on "No" and said so
        if kind is None:
            # No request running: a Yes tapped again on an earlier confirmation.
            key = str(next(tracker.get_latest_entity_values("service_key"), "") or "")
            kind = service.kind_of_key(key)
            confirmed = next(tracker.get_latest_entity_values("confirm"), None) == "yes"
            if kind is None or not confirmed or customer_id is None:
                if kind is not None and not confirmed:
                    dispatcher.utter_message(response="utter_service_not_changed")
                return _reset()
        if customer_id is None:
            dispatcher.utter_message(response="utter_need_verification")
            return [*_reset(), FollowupAction("link_form")]
        try:
            if kind == "refund_status":
                await self._refund_status(dispatcher, tracker, customer_id)
            elif confirmed:
                result = await self._apply(tracker, customer_id, kind, key)
                if result is not None:
                    told = service.outcome(result, services.policy(), services.gateway_url())
                    _say(dispatcher, told)
                    if told.response in service.OFFER_PERSON:
                        dispatcher.utter_message(response="utter_service_offer_person")
                    if not result.repeated:
                        done = result.outcome in ("done", "pending")
                        kind_event = SERVICE_DONE if done else SERVICE_REFUSED
                        await analytics.record(analytics.event(tracker, kind_event, kind, reason=result.reason))
                        if done:
                            return [*_reset(), FollowupAction(ASK_BOT_CSAT)]
        except RecordsUnavailable:
            dispatcher.utter_message(response="utter_records_unavailable")
        return _reset()

    @staticmethod
    async def _refund_status(dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str) -> None:
        number = str(tracker.get_slot("ss_order") or "")
        if not number:
            return
        records = _records(tracker)
        order, refund = await asyncio.gather(records.order(customer_id, number), records.refund(customer_id, number))
        if order is None or refund is None:
            dispatcher.utter_message(response="utter_order_not_found")
            return
        _say(dispatcher, service.refund_status(order, refund, services.policy()))

    @staticmethod
    async def _apply(tracker: Tracker, customer_id: str, kind: str, key: str) -> ServiceResult | None:
        records = _records(tracker)
        number = str(tracker.get_slot("ss_order") or "")
        if kind == "cancel_order":
            return await records.cancel_order(customer_id, number, key)
        if kind == "start_return":
            return await records.start_return(customer_id, number, str(tracker.get_slot("ss_reason") or "other"), key)
        if kind == "change_address":
            return await records.change_address(customer_id, number, str(tracker.get_slot("ss_address") or ""), key)
        if kind == "update_contact":
            proven = await asyncio.to_thread(services.contact_verification().take, customer_id)
            contact_kind, value = proven if proven is not None else ("email", "")
            # Without a proven value only a replay of this key can succeed; anything else is refused.
            return await records.update_contact(customer_id, contact_kind, value, key)
        if kind == "marketing_opt_out":
            return await records.marketing_opt_out(customer_id, key)
        if kind == "account_deletion":
            return await records.request_deletion(customer_id, key)
        return None
