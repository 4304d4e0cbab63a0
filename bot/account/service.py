"""Self-service in the chat: which request a customer makes, what the form asks, how outcomes are told.

The records backend decides and changes (bot.records); this module only picks the domain
response for a request's confirmation question and for its outcome, and fills the
placeholders. No I/O and no Rasa, so it is unit-tested directly.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from bot.account.replies import Utterance, day, money
from bot.records.model import OrderInfo, RefundInfo, ServiceResult
from bot.records.policy import Policy

#: The intent that starts each request, and the request's kind.
KIND_OF_INTENT = {
    "order_cancel": "cancel_order",
    "order_return": "start_return",
    "order_change_address": "change_address",
    "refund_status": "refund_status",
    "update_contact": "update_contact",
    "marketing_opt_out": "marketing_opt_out",
    "account_delete": "account_deletion",
}

#: What the form asks for each kind, in order (``ss_confirm`` is the confirmation step).
FORM_SLOTS = {
    "cancel_order": ("ss_order", "ss_confirm"),
    "start_return": ("ss_order", "ss_reason", "ss_confirm"),
    "change_address": ("ss_order", "ss_address", "ss_confirm"),
    "refund_status": ("ss_order",),
    "update_contact": ("ss_contact", "ss_code", "ss_confirm"),
    "marketing_opt_out": ("ss_confirm",),
    "account_deletion": ("ss_confirm",),
}

_KEY = re.compile(r"^(?P<kind>[a-z_]+)-[0-9a-f]{32}$")
_EMAIL = re.compile(r"[^@\s,;:<>()]+@[^@\s,;:<>()]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\d[\d ()/.-]{5,20}\d")


def new_key(kind: str) -> str:
    """A fresh idempotency key for one request: ``<kind>-<32 hex>``."""
    return f"{kind}-{uuid.uuid4().hex}"


def kind_of_key(key: str) -> str | None:
    """The kind a key was made for, or None for a malformed key."""
    found = _KEY.match(key)
    return found.group("kind") if found and found.group("kind") in FORM_SLOTS else None


def find_contact(text: str) -> tuple[str, str] | None:
    """An email address or phone number in ``text``: ``("email", value)``, ``("phone", value)`` or None."""
    email = _EMAIL.search(text)
    if email:
        return "email", email.group(0)
    phone = _PHONE.search(text)
    if phone and sum(ch.isdigit() for ch in phone.group(0)) >= 7:
        return "phone", phone.group(0)
    return None


_ADDRESS = re.compile(
    r"(?P<street>(?:[A-Za-zÄÖÜäöüßéè][A-Za-zÄÖÜäöüßéè.'\-]*\s+){1,4}\d+\s?[a-zA-Z]?)\s*[,\n]\s*"
    r"(?P<town>\d{4,5}\s+[A-Za-zÄÖÜäöüßéè][A-Za-zÄÖÜäöüßéè\-]+(?:\s+[A-ZÄÖÜ][A-Za-zÄÖÜäöüßéè\-]+)?)"
)
_NOT_STREET = frozenset(
    "to at is the a my new address postcode post code wrong sorry its it's please send ship deliver it instead "
    "no oops actually i meant mean should be".split()
)


def find_address(text: str) -> str | None:
    """A street with its number, postcode and town inside a sentence, or None.

    "please send order 190160 to Lindenstraße 12, 10969 Berlin instead" ->
    "Lindenstraße 12, 10969 Berlin"; words before the street name ("to", "sorry, wrong
    postcode:") are not part of it.
    """
    found = _ADDRESS.search(text)
    if found is None:
        return None
    words = found.group("street").split()
    while len(words) > 2 and words[0].lower().strip(":") in _NOT_STREET:
        words = words[1:]
    return f"{' '.join(words)}, {found.group('town').strip()}"


def mask_contact(kind: str, value: str) -> str:
    """``anna.k@example.org`` -> ``a•••@example.org``; ``+491512345678`` -> ``•••5678``."""
    if kind == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}•••@{domain}"
    return "•••" + value[-4:]


def reason_code(text: str, policy: Policy) -> str:
    """The return reason a customer's words or button title name (``other`` when none fits)."""
    lowered = text.strip().lower()
    for code, title in policy.return_reasons.items():
        if lowered in (code, title.lower()):
            return code
    keywords = {
        "faulty": ("broken", "faulty", "defect", "damaged", "doesn't work", "does not work", "not working", "dead"),
        "wrong_item": ("wrong",),
        "changed_mind": ("changed my mind", "don't need", "dont need", "don't want", "no longer"),
        "not_as_expected": ("expected", "too slow", "not good", "disappoint", "doesn't fit", "not what"),
    }
    for code, words in keywords.items():
        if code in policy.return_reasons and any(word in lowered for word in words):
            return code
    return "other"


def eligibility(kind: str, order: OrderInfo, today: dt.date, policy: Policy) -> Utterance | None:
    """Why ``order`` cannot have this request (as told before asking anything else), or None if it can.

    The records backend checks again when the customer confirms.
    """
    values = {"number": order.number, "status": order.status}
    if kind in ("cancel_order", "change_address") and order.status != "processing":
        response = {
            "cancel_order": "utter_cancel_refused_shipped",
            "change_address": "utter_address_refused_shipped",
        }[kind]
        if order.status in ("cancelled", "returned"):
            response = "utter_service_order_closed"
        return Utterance(response, values)
    if kind == "start_return":
        if order.status in ("processing", "shipped"):
            return Utterance("utter_return_refused_not_delivered", values)
        if order.status in ("cancelled", "returned"):
            return Utterance("utter_service_order_closed", values)
        delivered = order.delivered_at or order.placed_at
        deadline = policy.return_deadline(delivered)
        if today > deadline:
            return Utterance("utter_return_refused_window", {**values, "deadline": day(deadline)})
    return None


def confirm_question(
    kind: str, policy: Policy, *, order: OrderInfo | None = None, reason: str = "", address: str = "", contact: str = ""
) -> Utterance:
    """The confirmation question of a request (the buttons are added by the action)."""
    values: dict[str, str] = {}
    if order is not None:
        items = ", ".join(line.name for line in order.lines) or "-"
        values = {"number": order.number, "items": items, "total": money(order.total_cents, order.currency)}
    if kind == "start_return":
        values["reason"] = policy.return_reasons.get(reason, reason)
    if kind == "change_address":
        values["address"] = address
    if kind == "update_contact":
        values["contact"] = contact
    if kind == "account_deletion":
        values["days"] = str(policy.deletion_days)
    return Utterance(f"utter_confirm_{kind}", values)


def refund_words(refund: RefundInfo | None, policy: Policy) -> dict[str, str]:
    """Amount, method and timing of a refund for the replies' placeholders."""
    if refund is None:
        return {"amount": "-", "method": "-", "timing": "-", "expected": "-"}
    return {
        "amount": money(refund.amount_cents, refund.currency),
        "method": policy.method_name(refund.method),
        "timing": policy.refund_time(refund.method).text,
        "expected": day(refund.expected_by),
        "issued": day(refund.issued_on),
    }


def outcome(result: ServiceResult, policy: Policy, gateway_url: str) -> Utterance:
    """What the customer is told after confirming (or repeating a confirmation)."""
    values = {"number": result.order_number or "-", "reference": result.reference or "-"}
    values.update(refund_words(result.refund, policy))
    label = result.label_url or ""
    values["label"] = (label if "://" in label else gateway_url.rstrip("/") + label) if label else "-"
    values["deadline"] = day(result.deadline)
    values["days"] = str(policy.deletion_days)
    values["processing"] = str(policy.return_processing_days)
    if result.repeated:
        return Utterance("utter_service_repeated", {**values, "what": _DONE_WORDS.get(result.kind, "that")})
    if result.outcome == "refused":
        return Utterance(_REFUSALS.get((result.kind, result.reason or ""), "utter_service_refused"), values)
    if result.reason == "unchanged" and result.kind in _CAN_BE_UNCHANGED:
        return Utterance(f"utter_{result.kind}_unchanged", values)
    return Utterance(f"utter_{result.kind}_done", values)


def refund_status(order: OrderInfo, refund: RefundInfo, policy: Policy) -> Utterance:
    """The refund of a cancelled or returned order (or why there is none)."""
    values = {"number": order.number, "status": order.status, **refund_words(refund, policy)}
    values["processing"] = str(policy.return_processing_days)
    return Utterance(f"utter_refund_{refund.status}", values)


#: Refusals after which a person is offered (they may be able to make an exception or look closer).
OFFER_PERSON = frozenset(
    {
        "utter_return_refused_window",
        "utter_return_refused_not_returnable",
        "utter_address_refused_shipped",
        "utter_contact_in_use",
        "utter_service_refused",
    }
)

_CAN_BE_UNCHANGED = frozenset({"change_address", "update_contact", "marketing_opt_out", "account_deletion"})

_DONE_WORDS = {
    "cancel_order": "the cancellation",
    "start_return": "the return",
    "change_address": "the address change",
    "update_contact": "the change of your contact details",
    "marketing_opt_out": "the unsubscribe",
    "account_deletion": "the deletion request",
}

_REFUSALS = {
    ("cancel_order", "shipped"): "utter_cancel_refused_shipped",
    ("cancel_order", "already_cancelled"): "utter_service_order_closed",
    ("cancel_order", "returned"): "utter_service_order_closed",
    ("change_address", "shipped"): "utter_address_refused_shipped",
    ("change_address", "invalid_address"): "utter_address_invalid",
    ("start_return", "not_shipped"): "utter_return_refused_not_delivered",
    ("start_return", "not_delivered"): "utter_return_refused_not_delivered",
    ("start_return", "outside_window"): "utter_return_refused_window",
    ("start_return", "not_returnable"): "utter_return_refused_not_returnable",
    ("start_return", "return_open"): "utter_return_already_open",
    ("update_contact", "in_use"): "utter_contact_in_use",
    ("update_contact", "invalid_value"): "utter_contact_invalid",
}
