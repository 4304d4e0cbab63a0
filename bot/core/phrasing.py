"""The shape of a customer's message, read the same way by the gateway, the dialogue policies and the actions.

A question (a "?" at the end or a question word first), words that leave what was going on
("never mind, …", "cancel that, …"), and an order number (six digits starting with 1).
"""

from __future__ import annotations

import re

QUESTION_WORDS = frozenset(
    """
    how what whats what's which when where where's why who is are does do did can could will would should
    have has any
    """.split()
)
LEAVING = re.compile(
    r"^\s*(never\s*mind|nevermind|forget (it|that)|stop|cancel that|no wait|actually,? (never\s*mind|forget it))\b",
    re.IGNORECASE,
)
ORDER_NUMBER = re.compile(r"(?<!\d)1\d{5}(?!\d)")


def is_question(text: str) -> bool:
    """Whether the text reads as a question: a "?" at the end or a question word first."""
    words = text.strip().lower().split()
    return text.strip().endswith("?") or (bool(words) and words[0].strip(",.!") in QUESTION_WORDS)


def leaves(text: str) -> bool:
    """Whether the message starts by leaving what was going on ("never mind, how much is …")."""
    return LEAVING.match(text) is not None


def after_leaving(text: str) -> str:
    """The message without its leaving words ("cancel that, what's your returns policy?" -> the question)."""
    return LEAVING.sub("", text, count=1).strip(" ,.;:-!")
