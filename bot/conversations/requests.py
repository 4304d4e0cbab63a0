"""Two requests in one message ("my wifi keeps dropping and also where is my order?").

The dialogue model answers a message as one request. When a message joins two requests with
"and also", "also", "plus", "by the way" or a sentence break, the gateway parses both parts
(Rasa's ``/model/parse``, stateless) and, if the part the bot did not serve is a confident
request of another kind, says so after the answer and offers it as a button that sends that
part as the customer's next message: "You also asked: “where is my order?” …".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Intents that are requests the bot serves (a second one of these is worth offering).
REQUEST_INTENTS = frozenset(
    {
        "order_status",
        "recent_orders",
        "order_cancel",
        "order_return",
        "order_change_address",
        "refund_status",
        "warranty_status",
        "billing_question",
        "update_contact",
        "marketing_opt_out",
        "account_delete",
        "problem_wifi_drops",
        "problem_no_power",
        "problem_slow_speed",
        "problem_login",
        "problem_firmware_update",
        "problem_payment_failed",
        "ask_product_price",
        "ask_product_availability",
        "ask_product_specs",
        "ask_product_compatibility",
        "ask_business_hours",
        "ask_help",
    }
)
#: How sure the NLU must be about each part.
MIN_CONFIDENCE = 0.7
MIN_WORDS = 3
MAX_BUTTON_CHARS = 60

_JOINS = re.compile(
    r"\s*(?:,?\s*\b(?:and also|and then also|also|plus|by the way|btw|oh and|and another thing)\b[,:]?|[.!?;]+)\s+",
    re.IGNORECASE,
)


_LEADING_JOIN = re.compile(r"^(?:and also|also|plus|by the way|btw|oh and|and)\b[,:]?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """One part's intent and confidence."""

    intent: str
    confidence: float


def split_requests(text: str) -> tuple[str, str] | None:
    """The two parts of a message joined by a request connector, each at least three words; else None.

    Only the first join counts ("a. b. c" -> "a", "b. c").
    """
    if len(text) > 500:
        return None
    match = _JOINS.search(text)
    if match is None:
        return None
    first, second = text[: match.start()].strip(" ,"), text[match.end() :].strip(" ,")
    second = _LEADING_JOIN.sub("", second)  # "a. also b" -> "b"
    if len(first.split()) < MIN_WORDS or len(second.split()) < MIN_WORDS:
        return None
    return first, second


def other_request(whole: Parsed, first: Parsed, second: Parsed, parts: tuple[str, str]) -> str | None:
    """The part the bot did not serve, if it is a confident request of another kind; else None.

    The bot served the whole message's intent; of the two parts, the one with another
    confident request intent is offered (when both or neither qualify, nothing is).
    """
    candidates = [
        text
        for text, parsed in zip(parts, (first, second), strict=True)
        if parsed.intent in REQUEST_INTENTS and parsed.confidence >= MIN_CONFIDENCE and parsed.intent != whole.intent
    ]
    served = any(p.intent == whole.intent for p in (first, second))
    return candidates[0] if len(candidates) == 1 and served else None


def button_title(text: str) -> str:
    """The offered request as a button title (shortened at a word)."""
    clean = " ".join(text.split()).rstrip(".!")
    if len(clean) <= MAX_BUTTON_CHARS:
        return clean
    return clean[: MAX_BUTTON_CHARS - 1].rsplit(" ", 1)[0] + "…"
