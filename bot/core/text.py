"""Checks of identifiers and texts that arrive from any channel or front end."""

from __future__ import annotations

import re

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def is_conversation_id(value: object) -> bool:
    """Conversation ids are 1–128 characters of letters, digits and ``_ . : -``."""
    return isinstance(value, str) and CONVERSATION_ID.match(value) is not None


def is_client_id(value: object) -> bool:
    """Client message ids are 1–64 characters of letters, digits, ``_`` and ``-``."""
    return isinstance(value, str) and CLIENT_ID.match(value) is not None


def clean_text(value: str) -> str:
    """Strip surrounding whitespace and drop control characters other than newlines and tabs."""
    return "".join(ch for ch in value if ch in "\n\t" or (ch >= " " and ch != "\x7f")).strip()
