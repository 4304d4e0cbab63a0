"""Properties of the input checks every channel shares (bot/core/text.py)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.core.text import clean_text, is_client_id, is_conversation_id
from tests.strategies import any_text

#: The id rules as docs/api.md and docs/websocket-protocol.md state them: the whole value matches.
ID_RULES = [
    pytest.param(is_conversation_id, r"[A-Za-z0-9_.:\-]{1,128}", id="conversation_id"),
    pytest.param(is_client_id, r"[A-Za-z0-9_\-]{1,64}", id="client_id"),
]


def _is_subsequence(small: str, large: str) -> bool:
    characters = iter(large)
    return all(ch in characters for ch in small)


def _surrogate(ch: str) -> bool:
    """Half of a UTF-16 pair: not a character, and nothing a database can store alone."""
    return "\ud800" <= ch <= "\udfff"


@given(any_text)
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@given(any_text)
@example(" \x00hi\x7f\nthere\t\x1b ")
@example("\ud800")
def test_clean_text_trims_and_only_drops_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert cleaned == cleaned.strip()
    assert _is_subsequence(cleaned, text)
    assert all(ch in "\n\t" or (ch >= " " and not "\x7f" <= ch <= "\x9f" and not _surrogate(ch)) for ch in cleaned)
    visible = "".join(
        ch for ch in text if ch >= " " and not "\x7f" <= ch <= "\x9f" and not ch.isspace() and not _surrogate(ch)
    )
    assert _is_subsequence(visible, cleaned)  # nothing visible is lost


@given(any_text)
@example("a\x9bb")
def test_clean_text_leaves_no_control_characters(text: str) -> None:
    assert [ch for ch in clean_text(text) if unicodedata.category(ch) == "Cc" and ch not in "\n\t"] == []


@given(any_text)
@example("hi \ud800")
def test_clean_text_is_always_storable_utf8(text: str) -> None:
    assert clean_text(text).encode("utf-8").decode("utf-8") == clean_text(text)


@pytest.mark.parametrize(("check", "rule"), ID_RULES)
@given(value=any_text | st.from_regex(r"[A-Za-z0-9_.:\-]{1,5}\n?", fullmatch=True))
@example(value="a\n")
def test_id_checks_match_the_whole_value(check: Callable[[object], bool], rule: str, value: str) -> None:
    assert check(value) == (re.fullmatch(rule, value) is not None)


@given(
    st.from_regex(r"[A-Za-z0-9_.:\-]{1,128}", fullmatch=True), st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True)
)
def test_valid_ids_are_accepted(conversation_id: str, client_id: str) -> None:
    assert is_conversation_id(conversation_id) and is_client_id(client_id)
    assert not is_conversation_id(conversation_id + " ") and not is_client_id(client_id + ".")
