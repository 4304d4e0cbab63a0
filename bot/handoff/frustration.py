"""Reading frustration from the customer's own words, whatever intent the NLU predicted."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.handoff.config import FrustrationRules

_WORD = re.compile(r"[a-z0-9']+")
_REPEATED_PUNCTUATION = re.compile(r"[!?]{3,}")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _has_phrase(text: str, phrases: Sequence[str]) -> str | None:
    said = f" {' '.join(_words(text))} "
    for phrase in phrases:
        if f" {' '.join(_words(phrase))} " in said:
            return phrase
    return None


def _shouting(text: str, rules: FrustrationRules) -> bool:
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    letters = [c for c in text if c.isalpha()]
    if len(words) < rules.shouting_min_words or not letters:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= rules.shouting_upper_ratio


def _overlap(first: str, second: str) -> float:
    a, b = set(_words(first)), set(_words(second))
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _rephrased(text: str, previous: Sequence[str], rules: FrustrationRules) -> bool:
    earlier = list(previous)[-(rules.rephrase_repeats - 1) :]
    if len(earlier) < rules.rephrase_repeats - 1 or len(_words(text)) < 3:
        return False
    return all(_overlap(text, before) >= rules.rephrase_overlap for before in earlier)


def is_frustrated(text: str, previous_texts: Sequence[str], rules: FrustrationRules) -> str | None:
    """Why the message reads as frustrated, or ``None``.

    Args:
        text: The customer's latest message.
        previous_texts: The customer's earlier messages, oldest first (the latest not included).
        rules: Phrases and thresholds from ``data/handoff.yml``.

    Returns:
        ``"phrase:<phrase>"``, ``"shouting"``, ``"punctuation"`` or ``"rephrasing"``; ``None``
        for a calm message. Button payloads (``/intent...``) are never frustrated.
    """
    if not text.strip() or text.lstrip().startswith("/"):
        return None
    phrase = _has_phrase(text, rules.phrases)
    if phrase is not None:
        return f"phrase:{phrase}"
    if _shouting(text, rules):
        return "shouting"
    if _REPEATED_PUNCTUATION.search(text):
        return "punctuation"
    if _rephrased(text, [t for t in previous_texts if not t.lstrip().startswith("/")], rules):
        return "rephrasing"
    return None
