"""Checks of identifiers and texts that arrive from any channel or front end."""

from __future__ import annotations

import re

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def is_conversation_id(value: object) -> bool:
    """Conversation ids are 1–128 characters of letters, digits and ``_ . : -``."""
    return isinstance(value, str) and CONVERSATION_ID.fullmatch(value) is not None


def is_client_id(value: object) -> bool:
    """Client message ids are 1–64 characters of letters, digits, ``_`` and ``-``."""
    return isinstance(value, str) and CLIENT_ID.fullmatch(value) is not None


def clean_text(value: str) -> str:
    """Strip surrounding whitespace; drop control characters (C0, DEL, C1) other than newlines and tabs.

    Lone surrogates (which no database stores) are dropped too; the JSON front ends already
    refuse them with a 400 (``bot/core/jsonsafe.py``), so this only guards other paths.
    """
    return "".join(
        ch
        for ch in value
        if ch in "\n\t" or (ch >= " " and not "\x7f" <= ch <= "\x9f" and not "\ud800" <= ch <= "\udfff")
    ).strip()
