"""Two requests in one message ("my wifi keeps dropping and also where is my order?").

The dialogue model answers a message as one request, and a message holding two is often
not confidently any one intent (the bot then says it did not understand), or reads as the
second of them. When a message joins two parts with "and also", "also", "plus", "by the way",
"btw" or a sentence break, the gateway parses the whole message and both parts (Rasa's
``/model/parse``, stateless) *before* answering, and :func:`plan_requests` decides how the
message is served: the requests in the order the customer wrote them, the first part as the
customer's message to the model and the second offered after its answer as a button that sends
that part as the customer's next message ("You also asked: “where is my order?” …").

Pure: no I/O; ``bot/conversations/service.py`` makes the calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.core.phrasing import is_question

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
#: What Rasa's FallbackClassifier names a message it is not sure about.
FALLBACK_INTENT = "nlu_fallback"
#: How sure the NLU must be about the whole message, or about a part, to take it as one request.
MIN_CONFIDENCE = 0.7
#: A second part that is a question ("do you have it in paris") often leans on the first part
#: ("it"), so the model is less sure of it on its own; just above config.yml's fallback threshold.
MIN_QUESTION_CONFIDENCE = 0.5
MIN_WORDS = 3
MAX_BUTTON_CHARS = 60

# Where a message may join two requests. "also" and "plus" without a comma or "and" before
# them only when a new clause follows ("... also where is my order"), not as an adverb or
# between products ("does it also work", "a router plus a range extender"). A full stop
# only before a word, and not after an abbreviation or initial ("Hauptstr. 5", "Dr. Weber").
_JOINS = re.compile(
    r"""
      \s*,?\s*\b(?:and\ also|and\ then\ also|by\ the\ way|btw|oh\ and|and\ another\ thing)\b[,:]?\s+
    | (?P<lead>\s*[,;]\s*|\s+and\s+|\s+)(?:also|plus)\b[,:]?\s+(?=(?P<next>[^\s,.?!]+))
    | (?P<stop>[.!?;]+)\s+(?=(?P<after>\S))
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CLAUSE_OPENERS = frozenset(
    "what what's whats how where where's when which who why can could do does did is are will would should "
    "have has i i'm im i'd i've i'll my we we're our please tell let".split()
)
_ABBREVIATIONS = frozenset("mr mrs ms dr prof st str nr vs approx ca incl excl tel eg ie zb bzw ua".split())
_LEADING_JOIN = re.compile(r"^(?:and also|also|plus|by the way|btw|oh and|and)\b[,:]?\s*", re.IGNORECASE)
# A statement going on about the first part ("it started yesterday", "it is slow too").
_CONTINUATION = re.compile(r"^(?:it|it's|its|this|that|that's|they|they're|these|those)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """One part's intent and confidence."""

    intent: str
    confidence: float


@dataclass(frozen=True)
class RequestPlan:
    """How one customer message is served.

    Attributes:
        serve: The text the dialogue model gets as the customer's message now (the whole
            message, or its first part).
        offer: The part offered after the answer ("You also asked: …"), or ``None``.
        whole: The message as the customer wrote it (the transcript keeps this one).
    """

    serve: str
    offer: str | None = None
    whole: str | None = None

    @property
    def split(self) -> bool:
        """Whether the model gets only the first part of the message."""
        return self.whole is not None and self.serve != self.whole

    def metadata(self) -> dict[str, Any]:
        """What the message's metadata adds for the tracker: the whole message when the model gets a part."""
        extra: dict[str, Any] = {}
        if self.split:
            extra["whole_message"] = self.whole
        if self.offer is not None:
            extra["second_request"] = self.offer
        return extra


def _is_join(match: re.Match[str], text: str) -> bool:
    """Whether a connector found by :data:`_JOINS` joins two clauses (see the comment there)."""
    stop, lead = match.group("stop"), match.group("lead")
    if stop is not None:
        if match.group("after").isdigit():  # "Str. 12", "order? 190232"
            return False
        if "." not in stop:
            return True
        words = text[: match.start()].split()
        word = words[-1].lower().replace(".", "") if words else ""
        abbreviation = (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS or word.endswith("str")
        return not abbreviation
    if lead is not None and not lead.strip():  # a bare "also" / "plus": only before a new clause
        return match.group("next").lower() in _CLAUSE_OPENERS
    return True


def split_requests(text: str) -> tuple[str, str] | None:
    """The two parts of a message joined by a request connector, each at least three words; else None.

    The first join with enough words on both sides counts ("a. b. c" -> "a", "b. c"; "hi. a
    and also b" -> "hi. a", "b").
    """
    if len(text) > 500:
        return None
    for match in _JOINS.finditer(text):
        if not _is_join(match, text):
            continue
        first, second = text[: match.start()].strip(" ,"), text[match.end() :].strip(" ,")
        second = _LEADING_JOIN.sub("", second)  # "a. also b" -> "b"
        if len(first.split()) >= MIN_WORDS and len(second.split()) >= MIN_WORDS:
            return first, second
    return None


def _is_request(parsed: Parsed, threshold: float) -> bool:
    return parsed.intent in REQUEST_INTENTS and parsed.confidence >= threshold


def _second_is_request(text: str, second: Parsed, whole: Parsed) -> bool:
    """Whether the second part is a request of its own.

    Confident alone (less so for a question), or the request the model heard in the whole
    message ("how much is the ax6000 pro and also is it in stock in munich?" reads as the
    stock question as a whole); never a statement going on about the first part.
    """
    question = is_question(text)
    if not question and _CONTINUATION.match(text.strip()):
        return False
    if _is_request(second, MIN_QUESTION_CONFIDENCE if question else MIN_CONFIDENCE):
        return True
    return _is_request(whole, MIN_CONFIDENCE) and whole.intent == second.intent


def plan_requests(text: str, parts: tuple[str, str], whole: Parsed, first: Parsed, second: Parsed) -> RequestPlan:
    """How a message of two parts is served: in the order the customer wrote them.

    The model gets only the first part (and the second is offered after its answer, if it is
    a request of another kind) when the first part is a confident request and

    - the second part is a request of another kind, or
    - the whole message is not confidently one intent (the model would not understand it).

    Otherwise the model gets the whole message, as when it is one request told in two parts
    ("my wifi keeps dropping and also it is slow"); the second part is still offered when it
    is a request of another kind than the whole message, which is the first part's.
    """
    first_is_request = _is_request(first, MIN_CONFIDENCE)
    second_is_request = _second_is_request(parts[1], second, whole)
    whole_is_one = whole.intent != FALLBACK_INTENT and whole.confidence >= MIN_CONFIDENCE
    if first_is_request and ((second_is_request and second.intent != first.intent) or not whole_is_one):
        offer = parts[1] if second_is_request and second.intent != first.intent else None
        return RequestPlan(serve=parts[0], offer=offer, whole=text)
    if second_is_request and first.intent == whole.intent != second.intent:
        return RequestPlan(serve=text, offer=parts[1], whole=text)
    return RequestPlan(serve=text, whole=text)


def button_title(text: str) -> str:
    """The offered request as a button title (shortened at a word)."""
    clean = " ".join(text.split()).rstrip(".!")
    if len(clean) <= MAX_BUTTON_CHARS:
        return clean
    return clean[: MAX_BUTTON_CHARS - 1].rsplit(" ", 1)[0] + "…"
